"""The Spark engine (``--engine spark``) gives the DuckDB engine's result and run folder, file by
file and byte for byte: on the committed sample (through the CLI), a generated tenant, Spark
DataFrames, on a real standalone cluster of two workers, on a real Spark Connect server (the CLI
through SPARK_REMOTE, and Connect DataFrames) and under spark-submit. Spark is slow to start and the
machine small, so the tests are few and share one local session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from spark_cluster import Cluster, local_session, standalone_cluster
from spark_connect import ConnectServer, connect_server
from test_engine_sql import OTHER_MAPS, assert_same, assert_same_folder

import recon
from recon.cli import main
from recon.engine.sql import frames
from recon.engine.sql import reconcile as duckdb_reconcile
from recon.engine.sql.run import first_part, second_part
from recon.engine.sql.spark_engine import transpile
from recon.engine.sql.spark_run import reconcile as spark_reconcile
from recon.errors import ConfigError, InputError
from recon.fields import DEFAULT_FIELDS
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, generate

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
INPUTS = ["--dynamics", str(SAMPLE / CONTACTS_FILE), "--strivacity", str(SAMPLE / ACCOUNTS_FILE)]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = local_session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from standalone_cluster(tmp_path_factory.mktemp("spark-cluster"))


@pytest.fixture(scope="session")
def connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectServer]:
    yield from connect_server(tmp_path_factory.mktemp("spark-connect"))


@pytest.fixture(scope="module")
def sample() -> tuple[Any, Any]:
    return (recon.read_dynamics(SAMPLE / CONTACTS_FILE),
            recon.read_strivacity(SAMPLE / ACCOUNTS_FILE))


def _duckdb_folder(out: Path) -> Path:
    assert main(["reconcile", *INPUTS, "--out", str(out), "--engine", "duckdb"]) == 0
    return out


@pytest.mark.slow
def test_the_cli_on_spark_writes_duckdbs_run_folder(spark: Any, tmp_path: Path) -> None:
    """``recon reconcile --engine spark`` on the sample: exit 0 and the same files, byte for
    byte (no --spark-master: it runs on the session already active in this process)."""
    expected = _duckdb_folder(tmp_path / "duckdb")
    assert main(["reconcile", *INPUTS, "--out", str(tmp_path / "spark"),
                 "--engine", "spark"]) == 0
    assert len(list(expected.rglob("*.*"))) >= 10
    assert_same_folder(expected, tmp_path / "spark")


@pytest.mark.slow
def test_a_generated_tenant_with_another_field_map(spark: Any, tmp_path: Path) -> None:
    data = generate(tmp_path / "data", contacts=400, accounts=450, seed=7, overlap=0.8,
                    drift=0.3, duplicates=0.05)
    d = recon.read_dynamics(data / CONTACTS_FILE)
    s = recon.read_strivacity(data / ACCOUNTS_FILE)
    fields = OTHER_MAPS["street read as a phone, GB numbers"]
    expected, got = duckdb_reconcile(d, s, fields), spark_reconcile(d, s, fields, spark=spark)
    assert got.summary["drift"]["pairs"] > 0 and got.summary["dynamics"]["duplicate_groups"] > 0
    assert got.summary["batches"]["create_in_dynamics"] > 0
    assert_same(expected, got)
    assert_same_folder(expected.write(tmp_path / "duckdb"), got.write(tmp_path / "spark"))


def _spark_frame(spark: Any, frame: Any) -> Any:
    return spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


def _contact_table(spark: Any, contactids: list[str] | None = None) -> Any:
    """The sample's contacts as a Dataverse ``contact`` table in a lake: logical names, text."""
    raw = pacsv.read_csv(SAMPLE / CONTACTS_FILE)
    raw = raw.cast(pa.schema([(f.name, pa.string()) for f in raw.schema]))
    if contactids is not None:
        raw = raw.set_column(raw.schema.get_field_index("contactid"), "contactid",
                             pa.array(contactids, pa.string()))
    return spark.createDataFrame(raw)


@pytest.mark.slow
def test_spark_dataframes_run_on_their_session(spark: Any, sample: tuple[Any, Any]) -> None:
    """``recon.reconcile(spark_df, spark_df)``: Spark implied, pandas frames back, the same.
    The Dynamics side is a raw Dataverse contact table (the Fabric/Synapse Link shape), made
    canonical on the executors by recon's reader; the Strivacity side is canonical."""
    d, s = sample
    got = recon.reconcile(_contact_table(spark), _spark_frame(spark, s))
    assert_same(duckdb_reconcile(d, s), got)
    # The plan's views live in a session of their own: none is left in the caller's.
    assert [t.name for t in spark.catalog.listTables() if t.isTemporary] == []


def test_spark_dataframes_are_checked_at_the_boundary(spark: Any, sample: tuple[Any, Any]
                                                       ) -> None:
    d, s = sample
    accounts = _spark_frame(spark, s)
    with pytest.raises(InputError, match=r"lacks canonical columns \['email_key'\]"):
        recon.reconcile(_spark_frame(spark, d.drop(columns="email_key")), accounts)
    with pytest.raises(InputError, match="one side is a Spark DataFrame"):
        recon.reconcile(_spark_frame(spark, d), s)
    with pytest.raises(ConfigError, match="engine='duckdb'"):
        recon.reconcile(_spark_frame(spark, d), accounts, engine="duckdb")
    with pytest.raises(InputError, match="lacks the columns \\['emailaddress1'\\]"):
        recon.reconcile(_contact_table(spark).drop("emailaddress1"), accounts)
    # recon's reader's own message, from an executor: file, record, column and the fix.
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(len(d))]
    ids[-1] = " "
    with pytest.raises(InputError, match="the Spark contact table, .*column 'contactid': the "
                                         "record has no id. Fill in 'contactid'"):
        recon.reconcile(_contact_table(spark, ids), accounts)
    # A repeated id that no single batch sees twice is refused as the readers refuse it.
    with pytest.raises(InputError, match="record_id.*is on 2 records.*appear once"):
        recon.reconcile(_spark_frame(spark, pd.concat([d, d.tail(1)], ignore_index=True)),
                        accounts)


@pytest.mark.slow
def test_a_standalone_cluster_gives_the_same_run_folder(cluster: Cluster, tmp_path: Path
                                                        ) -> None:
    """Two workers on loopback; the driver is a fresh process (one Spark context each)."""
    expected = _duckdb_folder(tmp_path / "duckdb")
    done = subprocess.run(
        [sys.executable, "-m", "recon", "reconcile", *INPUTS, "--out", str(tmp_path / "spark"),
         "--engine", "spark", "--spark-master", cluster.master],
        env={**cluster.env, "RECON_PROGRESS": "0"}, capture_output=True, text=True,
        timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_folder(expected, tmp_path / "spark")


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Spark of this process's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_REMOTE", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET")}
    return {**env, "RECON_PROGRESS": "0", **extra}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_spark_connect_through_spark_remote_gives_the_same_run_folder(
        connect: ConnectServer, tmp_path: Path) -> None:
    """``SPARK_REMOTE=sc://... recon reconcile --engine spark``, a fresh process: the plan runs
    on the Connect server, the run folder is DuckDB's."""
    expected = _duckdb_folder(tmp_path / "duckdb")
    _run([sys.executable, "-m", "recon", "reconcile", *INPUTS, "--out", str(tmp_path / "spark"),
          "--engine", "spark"], _clean_env(SPARK_REMOTE=connect.remote))
    assert_same_folder(expected, tmp_path / "spark")


ON_CONNECT = """
import sys, pyarrow as pa, pyarrow.csv as pacsv
from pyspark.sql import SparkSession
import recon
from recon.errors import ConfigError, InputError
remote, contacts, accounts, out = sys.argv[1:]
spark = SparkSession.builder.remote(remote).getOrCreate()
raw = pacsv.read_csv(contacts)
d = spark.createDataFrame(raw.cast(pa.schema([(f.name, pa.string()) for f in raw.schema])))
s = spark.createDataFrame(pa.Table.from_pandas(recon.read_strivacity(accounts),
                                               preserve_index=False))
spark.range(1).createOrReplaceTempView("matches")  # the user's own view, named as a step
try:
    recon.reconcile(d, s)
except ConfigError as exc:
    print("REFUSED", exc)
print("KEPT", spark.table("matches").count())
spark.catalog.dropTempView("matches")
other = spark.newSession()  # not the active session: pyspark would lose its checkpoints
try:
    recon.reconcile(other.createDataFrame(d.toArrow()), other.createDataFrame(s.toArrow()))
except ConfigError as exc:
    print("OTHER", exc)
other.stop()
ids = raw.column("contactid").cast(pa.string()).to_pylist()
blank = raw.set_column(raw.schema.get_field_index("contactid"), "contactid",
                       pa.array(ids[:-1] + [" "], pa.string()))
try:  # recon's reader's own message, from the server's Python worker
    recon.reconcile(spark.createDataFrame(blank.cast(d.toArrow().schema)), s)
except InputError as exc:
    print("BAD", exc)
recon.reconcile(d, s).write(out)
print("LEFT", sorted(t.name for t in spark.catalog.listTables() if t.isTemporary))
print("SETTING", spark.conf.get("spark.sql.constraintPropagation.enabled"))
spark.stop()
"""


@pytest.mark.slow
def test_spark_connect_dataframes_give_the_same_run_folder(
        connect: ConnectServer, tmp_path: Path, sample: tuple[Any, Any]) -> None:
    """``recon.reconcile(spark_df, spark_df)`` on a Spark Connect session (a raw Dataverse
    contact table and canonical accounts): DuckDB's run folder; a temporary view of the user's
    named as a step is refused, not replaced; nothing of recon's is left on the session."""
    expected = duckdb_reconcile(*sample).write(tmp_path / "duckdb")
    done = _run([sys.executable, "-c", ON_CONNECT, connect.remote, str(SAMPLE / CONTACTS_FILE),
                 str(SAMPLE / ACCOUNTS_FILE), str(tmp_path / "spark")], _clean_env())
    assert "REFUSED the Spark Connect session has a temporary view 'matches'" in done.stdout
    assert "KEPT 1" in done.stdout and "LEFT []" in done.stdout
    assert "BAD the Spark contact table, " in done.stdout
    assert "column 'contactid': the record has no id. Fill in 'contactid'" in done.stdout
    assert "OTHER on Spark Connect recon runs on the process's active session" in done.stdout
    assert "SETTING true" in done.stdout  # the session's own setting is back
    assert_same_folder(expected, tmp_path / "spark")


JOB = """
import sys
from pyspark.sql import SparkSession
from recon.cli import main
code = main(sys.argv[1:])
print("MASTER", SparkSession.getActiveSession().sparkContext.master)
sys.exit(code)
"""


@pytest.mark.slow
def test_spark_submit_runs_the_cli_on_its_master(tmp_path: Path) -> None:
    """``spark-submit --master local[2] job.py reconcile ...`` (the pyspark package's own
    spark-submit): recon runs on spark-submit's master, not its own local[*]; DuckDB's folder."""
    import pyspark
    expected = _duckdb_folder(tmp_path / "duckdb")
    job = tmp_path / "reconcile_job.py"
    job.write_text(JOB)
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    done = _run([str(spark_submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                 "--conf", "spark.sql.shuffle.partitions=4", str(job), "reconcile", *INPUTS,
                 "--out", str(tmp_path / "spark"), "--engine", "spark"],
                _clean_env(PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"))
    assert "MASTER local[2]" in done.stdout
    assert_same_folder(expected, tmp_path / "spark")


def test_every_step_and_read_transpiles_to_one_spark_statement() -> None:
    """sqlglot carries each query over (no Java needed); DuckDB's implicit NULLS LAST on
    ascending keys, which Spark orders first, is written out."""
    required = ["family_name"]
    plan = [*first_part(DEFAULT_FIELDS, required), *second_part(DEFAULT_FIELDS, required)]
    reads = [frames.MATCHES, frames.DUPLICATES, frames.DRIFT, frames.REVIEW, frames.PROBLEMS,
             frames.UPDATE_DYNAMICS, frames.UPDATE_STRIVACITY]
    for sql in [step.sql for step in plan] + reads:
        assert transpile(sql).upper().startswith("SELECT ")
    assert "contactid NULLS LAST, d_pos NULLS LAST" in transpile(frames.MATCHES)
    assert "CAST(d_phone AS STRING)" in transpile(next(s.sql for s in plan
                                                       if s.name == "drift_candidates"))


@pytest.mark.parametrize("engine", [[], ["--engine", "duckdb"]])
def test_a_spark_master_with_another_engine_is_refused(
        tmp_path: Path, engine: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reconcile", *INPUTS, "--out", str(tmp_path / "run"), *engine,
                 "--spark-master", "local[2]"])
    assert code == 2 and "--spark-master is for --engine spark" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    code = main(["report", "--runs-dir", str(tmp_path / "runs"), "--spark-master", "local[2]"])
    assert code == 2 and "--engine spark" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="engine='spark'"):
        recon.reconcile(*[recon.read_dynamics(SAMPLE / CONTACTS_FILE),
                          recon.read_strivacity(SAMPLE / ACCOUNTS_FILE)], spark_master="local")


@pytest.mark.parametrize(("remote", "master", "said"), [
    ("sc://127.0.0.1:1", "local[2]", "SPARK_REMOTE names a Spark Connect server "
                                     "(sc://127.0.0.1:1) and --spark-master asks for 'local[2]'"),
    ("sc://127.0.0.1:1", "spark://127.0.0.1:7077", "unset SPARK_REMOTE to run on"),
    (None, "sc://127.0.0.1:1", "is a Spark Connect server, not a master: set SPARK_REMOTE"),
])
def test_a_master_and_a_connect_server_together_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        remote: str | None, master: str, said: str) -> None:
    """pyspark would pick one of the two silently; recon says which to drop (exit 2), before
    any Spark starts and before the run folder is written."""
    if remote is None:
        monkeypatch.delenv("SPARK_REMOTE", raising=False)
    else:
        monkeypatch.setenv("SPARK_REMOTE", remote)
    code = main(["reconcile", *INPUTS, "--out", str(tmp_path / "run"), "--engine", "spark",
                 "--spark-master", master])
    assert code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "run" / "summary.json").exists()


HIDDEN = """
import sys
sys.modules["pyspark"] = None  # as on `pip install recon` without the spark extra
from recon.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_pyspark_the_spark_engine_names_the_extra(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", HIDDEN, "reconcile", *INPUTS, "--out",
                           str(tmp_path / "run"), "--engine", "spark"],
                          env={**os.environ, "RECON_PROGRESS": "0"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "pip install 'recon[spark]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "summary.json").exists()



def test_the_report_notebook_takes_the_spark_engine_and_master() -> None:
    """``recon report --engine spark --spark-master URL`` reaches the notebook's parameters
    (which must exist there: unknown names are refused); running it is the CLI test's job."""
    from recon.runner import ReportOptions, notebook_parameters

    params = notebook_parameters(ReportOptions(source="sample", engine="spark",
                                               spark_master="local[2]"))
    assert params["engine"] == "spark" and params["spark_master"] == "local[2]"
