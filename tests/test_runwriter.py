"""The one run-folder writer (``recon.runwriter``): the same bytes from pandas frames and from
DuckDB's streamed tables, at any chunk size, today's bytes on the committed sample, and a
folder that never looks finished while it is being written."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from canonical import dynamics, first_sync, strivacity
from hypothesis import HealthCheck, given, settings
from test_engine_sql import tenants

import recon
from recon.api import EngineOptions, reconcile_files
from recon.engine.sql import frames
from recon.engine.sql.duckdb_engine import DuckDB
from recon.engine.sql.job import plan_sources
from recon.engine.sql.run import register_frames, run_steps
from recon.fields import DEFAULT_FIELDS, FieldMap
from recon.runfolder import BATCHES_DIR, RUN_FOLDER_FILES, SUMMARY_FILE
from recon.runwriter import Rows, Source, result_sources, whole_records, write_run_folder
from recon.sample import generate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
GOLDEN = ROOT / "tests" / "golden" / "sample_run_folder.json"
REGENERATE = "RECON_UPDATE_GOLDEN"
DUCKDB = EngineOptions("duckdb")


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _streamed(d: pd.DataFrame, s: pd.DataFrame, out: Path, chunk: int,
              fields: FieldMap = DEFAULT_FIELDS) -> Path:
    """The run folder streamed out of DuckDB's tables, ``chunk`` rows at a time."""
    with DuckDB() as db:
        register_frames(db, d, s)
        run_steps(db, fields)
        return write_run_folder(frames.summary(db, fields), plan_sources(db, fields), out,
                                chunk=chunk)


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (recon.read_dynamics(SAMPLE / "dynamics_contacts.csv"),
            recon.read_strivacity(SAMPLE / "strivacity_accounts.ndjson"))


def test_the_sample_run_folder_is_todays_byte_for_byte(sample, tmp_path: Path) -> None:
    # The digests are of the run folder written by the writer before this one (pyarrow over
    # the result's frames): every path below must give those bytes.
    if os.environ.get(REGENERATE) == "1":
        folder = recon.reconcile(*sample).write(tmp_path / "golden")
        GOLDEN.write_text(json.dumps(_digests(folder), indent=2) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert sorted(golden) == sorted(RUN_FOLDER_FILES)
    how = f"run `{REGENERATE}=1 .venv/bin/pytest {Path(__file__).name}` and review the diff"
    folders = {"numpy frames": recon.reconcile(*sample).write(tmp_path / "numpy"),
               "duckdb frames": recon.reconcile(*sample, engine="duckdb").write(tmp_path / "df"),
               "duckdb stream": _streamed(*sample, tmp_path / "stream", chunk=97)}
    _, folders["reconcile_files"] = reconcile_files(
        SAMPLE / "dynamics_contacts.csv", SAMPLE / "strivacity_accounts.ndjson",
        tmp_path / "job", engine=DUCKDB)
    for name, folder in folders.items():
        assert _digests(folder) == golden, f"{name}: not today's run folder; {how}"


@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_tiny_chunks_give_the_same_bytes_as_whole_frames(sample, tmp_path: Path,
                                                         chunk: int) -> None:
    d, s = sample[0].iloc[:400], sample[1].iloc[:400]
    whole = recon.reconcile(d, s).write(tmp_path / "whole")
    assert _files(_streamed(d, s, tmp_path / "streamed", chunk)) == _files(whole)


@pytest.mark.parametrize("drift", [0.0, 1.0])
def test_generated_tenants_stream_to_the_same_bytes(tmp_path: Path, drift: float) -> None:
    data = generate(tmp_path / "tenant", contacts=600, accounts=550, seed=5, drift=drift,
                    duplicates=0.05)
    d = recon.read_dynamics(data / "dynamics_contacts.csv")
    s = recon.read_strivacity(data / "strivacity_accounts.ndjson")
    whole = recon.reconcile(d, s).write(tmp_path / "whole")
    for chunk in (3, 64):
        assert _files(_streamed(d, s, tmp_path / f"c{chunk}", chunk)) == _files(whole), chunk


def test_a_first_sync_and_shared_ids_stream_to_the_same_bytes(sample, tmp_path: Path) -> None:
    """drift.csv and update_dynamics are sorted narrow and joined to their pairs after
    (``ranked``): every pair drifting, and pairs sharing a contactid or an account id."""
    d, s = sample[0].iloc[:300], first_sync(sample[1].iloc[:300])
    whole = recon.reconcile(d, s).write(tmp_path / "whole")
    assert len((whole / "drift.csv").read_text().splitlines()) > 5 * 200
    for chunk in (1, 7):
        assert _files(_streamed(d, s, tmp_path / f"c{chunk}", chunk)) == _files(whole), chunk
    shared = (dynamics({"id": "c1", "email": "a@x.com", "family_name": "Roe"},
                       {"id": "c1", "email": "b@x.com", "family_name": "Lee", "city": "Oslo"},
                       {"id": "c0", "email": "c@x.com", "family_name": "Kim"}),
              strivacity({"id": "a1", "email": "a@x.com", "family_name": "Doe", "city": "Bern"},
                         {"id": "a1", "email": "b@x.com", "family_name": "Poe"},
                         {"id": "a2", "email": "c@x.com", "family_name": "Kim II"}))
    whole = recon.reconcile(*shared).write(tmp_path / "shared")
    assert _files(_streamed(*shared, tmp_path / "shared-1", 1)) == _files(whole)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(tenants())
def test_random_tenants_stream_to_the_same_bytes(tmp_path_factory, tenant) -> None:
    d, s, fields = tenant
    tmp = tmp_path_factory.mktemp("run")
    whole = recon.reconcile(d, s, fields).write(tmp / "whole")
    assert _files(_streamed(d, s, tmp / "streamed", 1, fields)) == _files(whole)


AWKWARD = ["-Smith", "=1+2", "+Plus", "@At", "O'Brien", "Zoë", "1, Main St", 'say "hi"',
           "a\nb", "x\r\ny", "\tTab", "  pad  ", "0042", "123456789012", "😀 emoji", "", None,
           'naïve,"q"']


def _awkward() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [{"id": f"c{n:02d}", "email": f"p{n}@x.com", "family_name": v, "given_name": v,
             "city": v, "phone": "+1 512 555 0101" if n % 2 else v}
            for n, v in enumerate(AWKWARD)]
    rows += [{"id": "bad1", "email": "=HYPERLINK(1)"}, {"id": "bad2", "email": 'a, "b"'}]
    accounts = [{"id": f"a{n:02d}", "email": f"p{n}@x.com", "family_name": AWKWARD[-1 - n],
                 "city": AWKWARD[n] if n % 3 else "X"} for n in range(0, len(AWKWARD), 2)]
    accounts += [{"id": f"n{n:02d}", "email": f"new{n}@x.com", "family_name": v, "city": v}
                 for n, v in enumerate(AWKWARD)]
    return dynamics(*rows), strivacity(*accounts)


def test_awkward_values_stream_to_the_same_bytes(tmp_path: Path) -> None:
    d, s = _awkward()
    whole = recon.reconcile(d, s).write(tmp_path / "whole")
    drift = (whole / "drift.csv").read_text(encoding="utf-8")
    assert "'=1+2" in drift and '"say ""hi"""' in drift and "😀 emoji" in drift
    for chunk in (1, 4):
        assert _files(_streamed(d, s, tmp_path / f"c{chunk}", chunk)) == _files(whole)


def test_a_record_longer_than_a_chunk_stays_one_line(tmp_path: Path) -> None:
    # Five fields drift for c1: five update_dynamics rows, written through chunks of two.
    d = dynamics({"id": "c1", "email": "a@x.com", "given_name": "A", "family_name": "B",
                  "city": "C", "street": "D", "country": "E"},
                 {"id": "c2", "email": "b@x.com", "given_name": "A"})
    s = strivacity({"id": "a1", "email": "a@x.com", "given_name": "a", "family_name": "b",
                    "city": "c", "street": "d", "country": "e"},
                   {"id": "a2", "email": "b@x.com", "given_name": "Z"})
    folder = _streamed(d, s, tmp_path / "run", chunk=2)
    lines = (folder / BATCHES_DIR / "update_dynamics.jsonl").read_text().splitlines()
    assert [json.loads(line)["contactid"] for line in lines] == ["c1", "c2"]
    assert len(json.loads(lines[0])["set"]) == 5
    assert _files(folder) == _files(recon.reconcile(d, s).write(tmp_path / "whole"))


def test_whole_records_never_split_a_record_and_bound_each_piece() -> None:
    keys = ["a", "a", "a", "b", "c", "c", "c", "c", "c", "d", None, None]
    chunks = [pa.table({"k": keys[i:i + 2], "n": list(range(i, min(i + 2, len(keys))))})
              for i in range(0, len(keys), 2)]
    pieces = list(whole_records(chunks, "k"))
    assert pa.concat_tables(pieces).column("n").to_pylist() == list(range(len(keys)))
    seen: list[str | None] = []
    for piece in pieces:
        ks = piece.column("k").to_pylist()
        assert not seen or ks[0] != seen[-1], "a record was split between two pieces"
        assert piece.num_rows <= 2 + 5  # a chunk plus the longest record
        seen.extend(dict.fromkeys(ks))
    assert seen == ["a", "b", "c", "d", None]


def _spied(sources: dict[str, Source], sizes: list[int]) -> dict[str, Source]:
    def spy(source: Source) -> Source:
        def rows(chunk: int) -> Rows:
            opened = source(chunk)

            def chunks() -> Iterator[pa.Table]:
                for part in opened.chunks:
                    sizes.append(part.num_rows)
                    yield part
            return Rows(opened.columns, chunks())
        return rows
    return {name: spy(source) for name, source in sources.items()}


def test_no_chunk_from_duckdb_is_larger_than_asked(sample, tmp_path: Path) -> None:
    sizes: list[int] = []
    with DuckDB() as db:
        register_frames(db, *sample)
        run_steps(db, DEFAULT_FIELDS)
        write_run_folder(frames.summary(db, DEFAULT_FIELDS),
                         _spied(plan_sources(db, DEFAULT_FIELDS), sizes), tmp_path, chunk=50)
    assert max(sizes) == 50 and sum(sizes) > 20 * 50  # many chunks, none over the size


class _Boom(Exception):
    pass


def _failing(sources: dict[str, Source], name: str) -> dict[str, Source]:
    def rows(chunk: int) -> Rows:
        opened = sources[name](chunk)

        def chunks() -> Iterator[pa.Table]:
            yield from list(opened.chunks)[:1]
            raise _Boom("the disk went away")
        return Rows(opened.columns, chunks())
    return {**sources, name: rows}


@pytest.mark.parametrize("name", ["matches", "drift", "update_strivacity"])
def test_a_failed_write_leaves_no_finished_looking_folder(sample, tmp_path: Path,
                                                          name: str) -> None:
    result = recon.reconcile(sample[0].iloc[:300], sample[1].iloc[:300])
    folder = result.write(tmp_path / "run")  # an earlier, finished run in the same folder
    with pytest.raises(_Boom):
        write_run_folder(result.summary, _failing(result_sources(result), name), folder,
                         chunk=10)
    assert not (folder / SUMMARY_FILE).exists()
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")], "partial files left"
    assert result.write(folder) == folder and (folder / SUMMARY_FILE).is_file()


def test_a_file_that_cannot_be_written_is_a_sentence_with_the_fix(sample, tmp_path: Path) -> None:
    result = recon.reconcile(sample[0].iloc[:50], sample[1].iloc[:50])
    folder = result.write(tmp_path / "run")
    (folder / "review.csv").unlink()
    (folder / "review.csv").mkdir()  # a rename over a folder fails with an OSError
    with pytest.raises(recon.ReconError, match=r"review\.csv could not be written .* Free disk"):
        result.write(folder)
    assert not (folder / SUMMARY_FILE).exists()


_KILLED = """
import sys
from pathlib import Path
import recon
from recon.runwriter import Rows, result_sources, write_run_folder
sample = Path(sys.argv[1])
result = recon.reconcile(recon.read_dynamics(sample / "dynamics_contacts.csv"),
                         recon.read_strivacity(sample / "strivacity_accounts.ndjson"))
sources = result_sources(result)
def drift(chunk):
    opened = sources["drift"](chunk)
    def chunks():
        for n, part in enumerate(opened.chunks):
            if n == 2:
                print("writing", flush=True)
                sys.stdin.readline()  # held here until killed
            yield part
    return Rows(opened.columns, chunks())
write_run_folder(result.summary, {**sources, "drift": drift}, sys.argv[2], chunk=5)
"""


def test_a_write_killed_midway_leaves_no_summary(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    recon.reconcile_files(SAMPLE / "dynamics_contacts.csv", SAMPLE / "strivacity_accounts.ndjson",
                          folder)
    with subprocess.Popen([sys.executable, "-c", _KILLED, str(SAMPLE), str(folder)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
            os.kill(writer.pid, signal.SIGKILL)
        finally:
            writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    assert not (folder / SUMMARY_FILE).exists()
    partial = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert len(partial) == 1 and partial[0].startswith(".drift.csv.")


def test_the_job_writes_private_files_and_a_lazy_result(tmp_path: Path) -> None:
    eager, _ = reconcile_files(SAMPLE / "dynamics_contacts.csv",
                               SAMPLE / "strivacity_accounts.ndjson", tmp_path / "eager")
    lazy, folder = reconcile_files(SAMPLE / "dynamics_contacts.csv",
                                   SAMPLE / "strivacity_accounts.ndjson", tmp_path / "lazy",
                                   engine=DUCKDB)
    assert lazy.folder == folder and lazy.summary == eager.summary
    for root, _, files in os.walk(folder):
        assert os.stat(root).st_mode & 0o777 == 0o700
        assert all(os.stat(Path(root) / f).st_mode & 0o777 == 0o600 for f in files)
    for name in ("matches", "duplicates", "drift", "review", "problems"):
        pd.testing.assert_frame_equal(getattr(lazy, name), getattr(eager, name), obj=name)
    for name in eager.summary["batches"]:
        assert list(lazy.batch_lines(name)) == list(eager.batch_lines(name)), name
    with pytest.raises(recon.ReconError, match="holds no per-record buckets"):
        _ = lazy.buckets
    assert _files(lazy.write(tmp_path / "copy")) == _files(folder)
    # Tables are read when first asked for, not before.
    (tmp_path / "copy" / "drift.csv").unlink()
    other = recon.Reconciliation.of_folder(tmp_path / "copy", lazy.summary)
    assert other.summary == lazy.summary and len(other.matches) == len(eager.matches)
    with pytest.raises(FileNotFoundError):
        _ = other.drift


def test_the_lazy_frames_show_values_without_the_spreadsheet_guard(tmp_path: Path) -> None:
    # As the folder holds them: edges trimmed, line breaks as \n, blanks missing; the ' that
    # guards a formula or a long number is not part of the value.
    d, s = _awkward()
    eager = recon.reconcile(d, s)
    lazy = recon.Reconciliation.of_folder(eager.write(tmp_path / "run"), eager.summary)
    def held(value: object) -> str | None:
        text = None if pd.isna(value) else str(value).strip(" ")
        return text.replace("\r\n", "\n").replace("\r", "\n") if text else None

    for name in ("drift", "review", "problems"):
        for column, values in getattr(eager, name).items():
            got = [None if pd.isna(v) else v for v in getattr(lazy, name)[column]]
            assert got == [held(v) for v in values], (name, column)
    values = set(lazy.drift["dynamics_value"].dropna()) | set(lazy.review["value"].dropna())
    assert {"-Smith", "+Plus", "0042", "\tTab", "=HYPERLINK(1)"} <= values
    assert list(lazy.drift.dtypes.astype(str)) == list(eager.drift.dtypes.astype(str))
