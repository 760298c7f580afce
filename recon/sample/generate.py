"""Write a sample tenant: both source files and the truth of what was planted.

Records stream to disk a chunk at a time; the planted cases sit at seeded positions among the
bulk. The truth is tallied from the records as they are written, never from the engine.
"""

from __future__ import annotations

import csv
import gc
import json
from pathlib import Path
from typing import Any

from recon.sample import truth as t
from recon.sample.bulk import CASE, Draws, bulk_person, chunks, slot_roles
from recon.sample.cases import Case, planted_cases
from recon.sample.records import CONTACT_COLUMNS, Account, Contact, account_line, contact_line
from recon.sample.spec import Plan, SampleSpec

CONTACTS_FILE = "dynamics_contacts.csv"
ACCOUNTS_FILE = "strivacity_accounts.ndjson"
TRUTH_FILE = "truth.json"
CHUNK = 50_000


class _Sink:
    """The two open source files plus the running tally and record counts.

    Bulk slots hand in shared tally objects; counting them by identity and adding each once
    at the end keeps a million slots cheap.
    """

    def __init__(self, out: Path) -> None:
        self._csv = (out / CONTACTS_FILE).open("w", encoding="utf-8", newline="")
        self._ndjson = (out / ACCOUNTS_FILE).open("w", encoding="utf-8", newline="\n")
        csv.writer(self._csv, lineterminator="\n").writerow(CONTACT_COLUMNS)
        self._seen: dict[int, tuple[t.Tally, list[int]]] = {}
        self.contacts = 0
        self.accounts = 0

    def write(self, contacts: list[Contact], accounts: list[Account], tally: t.Tally) -> None:
        """Write one slot's records and note its effect."""
        for contact in contacts:
            self._csv.write(contact_line(contact))
        for account in accounts:
            self._ndjson.write(account_line(account) + "\n")
        self._seen.setdefault(id(tally), (tally, [0]))[1][0] += 1
        self.contacts += len(contacts)
        self.accounts += len(accounts)

    def tally(self) -> t.Tally:
        """The sum of every effect written."""
        total = t.Tally()
        for tally, (times,) in self._seen.values():
            total.update({key: value * times for key, value in tally.items()})
        return total

    def close(self) -> None:
        """Flush and close both files."""
        self._csv.close()
        self._ndjson.close()


def generate(out_dir: str | Path, contacts: int = 2000, accounts: int | None = None,
             seed: int = 0, *, overlap: float = 0.8, drift: float = 0.0,
             duplicates: float = 0.0) -> Path:
    """Write a deterministic sample tenant into ``out_dir`` and return the folder.

    Same arguments, same bytes. See ``SampleSpec`` for what the knobs mean.
    """
    spec = SampleSpec(contacts, accounts, seed, overlap, drift, duplicates)
    return write_sample(out_dir, spec)


def write_sample(out_dir: str | Path, spec: SampleSpec) -> Path:
    """Write ``dynamics_contacts.csv``, ``strivacity_accounts.ndjson`` and ``truth.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = planted_cases(spec.seed)
    plan = Plan.of(spec, sum(len(c.contacts) for c in cases),
                   sum(len(c.accounts) for c in cases))
    roles = slot_roles(plan, len(cases), spec.seed)
    sink = _Sink(out)
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived records and no cycles: collection only costs time
    try:
        _write_slots(sink, roles.tolist(), cases, spec)
    finally:
        sink.close()
        if collecting:
            gc.enable()
    truth = _truth(spec, plan, cases, sink)
    text = json.dumps(truth, ensure_ascii=False, indent=2) + "\n"
    (out / TRUTH_FILE).write_text(text, encoding="utf-8")
    return out


def _write_slots(sink: _Sink, roles: list[int], cases: list[Case], spec: SampleSpec) -> None:
    pending = iter(cases)
    for chunk, start, size in chunks(len(roles), CHUNK):
        draws = Draws.of(spec.seed, chunk, size, spec)
        for j in range(size):
            role = roles[start + j]
            if role == CASE:
                case = next(pending)
                sink.write(list(case.contacts), list(case.accounts), case.tally)
            else:
                sink.write(*bulk_person(role, draws, j, start + j))


def _truth(spec: SampleSpec, plan: Plan, cases: list[Case], sink: _Sink) -> dict[str, Any]:
    expected = t.summary(sink.tally())
    written = (expected["dynamics"]["records"], expected["strivacity"]["records"])
    if written != (sink.contacts, sink.accounts) or written != (spec.contacts,
                                                                 spec.account_count):
        raise AssertionError(f"tally counts {written} records, wrote "
                             f"{(sink.contacts, sink.accounts)}, asked for "
                             f"{(spec.contacts, spec.account_count)}: a case's tally is wrong")
    return {
        "spec": {"contacts": spec.contacts, "accounts": spec.account_count, "seed": spec.seed,
                 "overlap": spec.overlap, "drift": spec.drift, "duplicates": spec.duplicates,
                 "linked": spec.linked},
        "files": {"dynamics": CONTACTS_FILE, "strivacity": ACCOUNTS_FILE},
        "bulk": {"matched_pairs": plan.matched, "dynamics_only": plan.dynamics_only,
                 "strivacity_only": plan.strivacity_only,
                 "dynamics_duplicate_pairs": plan.dynamics_groups,
                 "strivacity_duplicate_pairs": plan.strivacity_groups},
        "cases": {case.name: case.to_json() for case in cases},
        "expected_summary": expected,
    }
