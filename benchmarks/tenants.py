"""The benchmark tenants, generated once and cached: the base tenant and two variants of it.

- ``ensure_data(n, seed)``: n contacts and n accounts, 90% overlap, 5% drift, 1% duplicates.
- ``accounts_csv(folder)``: the same accounts as a Strivacity CSV export (dotted headers).
- ``first_sync(folder)``: the same tenant where every paired account differs from its contact
  in every mapped field, as when two systems were never kept in step.

The cache lives under ``RECON_BENCH_DATA`` (default ``benchmarks/out``): a 10M tenant is ~9 GB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONTACTS, ACCOUNTS = "dynamics_contacts.csv", "strivacity_accounts.ndjson"
#: A time format no export matches, so DuckDB keeps times as the text the export holds.
_AS_TEXT = "timestampformat='no-time', dateformat='no-date'"


def cache() -> Path:
    return Path(os.environ.get("RECON_BENCH_DATA", HERE / "out"))


def ensure_data(contacts: int, seed: int) -> Path:
    """Generate the benchmark tenant once; later runs reuse it."""
    folder = cache() / f"tenant-{contacts}-{seed}"
    if not (folder / "truth.json").exists():
        from recon.sample import generate

        print(f"generating {contacts:,} contacts and accounts into {folder} ...", flush=True)
        generate(folder, contacts=contacts, accounts=contacts, seed=seed,
                 overlap=0.9, drift=0.05, duplicates=0.01)
    return folder


def accounts_csv(folder: Path) -> Path:
    """The tenant's accounts as a CSV export with dotted headers, made once with DuckDB."""
    target = folder / "strivacity_accounts.csv"
    if not target.exists():
        import duckdb

        print(f"writing {target} ...", flush=True)
        con = duckdb.connect()
        con.execute(f"""CREATE VIEW a AS SELECT * FROM read_json('{folder / ACCOUNTS}',
                        format='newline_delimited', {_AS_TEXT})""")
        columns = _leaves(con, "a")
        select = ", ".join(f'{expr} AS "{name}"' for name, expr in columns)
        partial = target.with_suffix(".part")
        con.execute(f"COPY (SELECT {select} FROM a) TO '{partial}' (HEADER, FORMAT CSV)")
        partial.rename(target)
    return target


def _leaves(con: Any, view: str) -> list[tuple[str, str]]:
    """(dotted name, SQL expression) of every leaf column of ``view``'s nested structs."""
    out: list[tuple[str, str]] = []

    def walk(name: str, expr: str, kind: Any) -> None:
        if kind.id == "struct":
            for child, child_type in kind.children:
                walk(f"{name}.{child}" if name else child, f'{expr}."{child}"', child_type)
        else:
            out.append((name, expr))

    relation = con.table(view)
    for column, column_type in zip(relation.columns, relation.types, strict=True):
        walk(column, f'"{column}"', column_type)
    return out


def first_sync(folder: Path) -> Path:
    """A copy of the tenant where every account differs from its contact in every field."""
    target = folder.with_name(folder.name + "-first-sync")
    if (target / CONTACTS).exists() and (target / ACCOUNTS).exists():
        return target
    import duckdb

    print(f"writing {target} ...", flush=True)
    target.mkdir(parents=True, exist_ok=True)
    (target / CONTACTS).unlink(missing_ok=True)
    os.link(folder / CONTACTS, target / CONTACTS)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW a AS SELECT * FROM read_json('{folder / ACCOUNTS}', "
                f"format='newline_delimited', {_AS_TEXT})")
    info, ids = "accountInfo", "identities"

    def changed(expr: str) -> str:  # a different, still plain value
        return f"COALESCE({expr} || ' II', 'Other')"

    phone = (f"CASE WHEN {ids}.phone.id IS NULL THEN NULL ELSE left({ids}.phone.id, -1) || "
             f"CAST((CAST(right({ids}.phone.id, 1) AS INTEGER) + 1) % 10 AS VARCHAR) END")
    name = ", ".join(f"'{k}': {changed(f'{info}.name.{k}')}"
                     for k in ("givenName", "familyName", "middleName"))
    address = ", ".join(f"'{k}': {changed(f'{info}.addresses.{k}')}"
                        for k in ("streetAddress", "locality", "region", "postalCode",
                                  "country"))
    con.execute(f"""COPY (SELECT * REPLACE (
            {{'email': {ids}.email, 'phone': {{'id': {phone}, 'verified': {ids}.phone.verified}},
              'local': {ids}.local}} AS {ids},
            {{'name': {{{name}}}, 'emails': {info}.emails, 'addresses': {{{address}}},
              'crm': {info}.crm}} AS {info})
        FROM a) TO '{target / (ACCOUNTS + '.part')}' (FORMAT JSON)""")
    (target / (ACCOUNTS + ".part")).rename(target / ACCOUNTS)
    return target
