"""The hand-rolled reconciliations recon is measured against, each run as its own process.

    python benchmarks/baselines.py pandas|datacompy|duckdb DYNAMICS.csv STRIVACITY.ndjson|.csv OUT

Each one does what a careful analyst would write without recon: load both exports, key on the
lower-cased, trimmed primary email, full outer join, compare the mapped fields pair by pair and
write the matched pairs and the differing fields to CSV. None of them handles duplicates, links,
IDNA domains or phone formats; they are the speed baseline, not a correctness one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson

# (canonical, Dynamics column, Strivacity attribute path under accountInfo)
FIELDS = [
    ("given_name", "firstname", "name.givenName"),
    ("family_name", "lastname", "name.familyName"),
    ("middle_name", "middlename", "name.middleName"),
    ("phone", "mobilephone", None),
    ("street", "address1_line1", "addresses.streetAddress"),
    ("city", "address1_city", "addresses.locality"),
    ("region", "address1_stateorprovince", "addresses.region"),
    ("postal_code", "address1_postalcode", "addresses.postalCode"),
    ("country", "address1_country", "addresses.country"),
]


def _flat_accounts(path: str) -> pd.DataFrame:
    """Accounts flattened to dotted columns with pyarrow's reader (the fastest route in pandas).

    A CSV export already has dotted headers; NDJSON's nested objects are flattened.
    """
    if path.endswith(".csv"):
        flat = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
        flat = flat.replace("", None).astype("string[pyarrow]")
    else:
        table = pajson.read_json(path)
        while any(pa.types.is_struct(f.type) for f in table.schema):
            table = table.flatten()
        flat = table.to_pandas(types_mapper=pd.ArrowDtype)
    out = pd.DataFrame({"strivacity_id": flat["id"]})
    email = flat.get("accountInfo.emails.primaryEmail")
    out["email"] = email.fillna(flat["identities.email.id"]) if email is not None \
        else flat["identities.email.id"]
    for name, _, attr in FIELDS:
        col = "identities.phone.id" if attr is None else f"accountInfo.{attr}"
        alt = None if attr is None else f"identities.local.metadata.{attr}"
        value = flat[col] if col in flat else pd.Series(pd.NA, index=flat.index)
        if alt and alt in flat:
            value = value.fillna(flat[alt])
        out[name] = value.astype("string[pyarrow]")
    return out


def _contacts(path: str) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
    out = pd.DataFrame({"contactid": raw["contactid"], "email": raw["emailaddress1"]})
    for name, column, _ in FIELDS:
        out[name] = raw[column].astype("string[pyarrow]")
    return out


def _key(email: pd.Series) -> pd.Series:
    return email.astype("string[pyarrow]").str.strip().str.lower()


def run_pandas(dyn: str, stv: str, out: Path) -> None:
    d, s = _contacts(dyn), _flat_accounts(stv)
    d["email_key"], s["email_key"] = _key(d["email"]), _key(s["email"])
    both = d.merge(s, on="email_key", how="outer", suffixes=("_d", "_s"), indicator=True)
    pairs = both[both["_merge"] == "both"]
    pairs[["email_key", "contactid", "strivacity_id"]].to_csv(out / "matches.csv", index=False)
    rows = []
    for name, _, _ in FIELDS:
        left, right = pairs[f"{name}_d"].fillna(""), pairs[f"{name}_s"].fillna("")
        diff = pairs.loc[left != right, ["contactid", "strivacity_id", "email_key"]].copy()
        diff["field"], diff["dynamics_value"], diff["strivacity_value"] = name, left, right
        rows.append(diff)
    pd.concat(rows).to_csv(out / "drift.csv", index=False)


def run_datacompy(dyn: str, stv: str, out: Path) -> None:
    import datacompy

    d, s = _contacts(dyn), _flat_accounts(stv)
    d["email_key"], s["email_key"] = _key(d["email"]), _key(s["email"])
    names = [n for n, _, _ in FIELDS]
    compare = datacompy.PandasCompare(d[["email_key", "contactid", *names]],
                                      s[["email_key", "strivacity_id", *names]],
                                      join_columns="email_key", df1_name="dynamics",
                                      df2_name="strivacity")
    (out / "report.txt").write_text(compare.report())
    compare.all_mismatch().to_csv(out / "drift.csv", index=False)


def run_duckdb(dyn: str, stv: str, out: Path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"create view d as select * from read_csv('{dyn}', all_varchar=true)")
    flat = stv.endswith(".csv")
    reader = (f"read_csv('{stv}', all_varchar=true)" if flat
              else f"read_json('{stv}', format='newline_delimited')")
    con.execute(f"create view s as select * from {reader}")

    def column(dotted: str) -> str:  # a CSV export's dotted header, or the NDJSON struct path
        return f's."{dotted}"' if flat else "s." + ".".join(f'"{p}"' for p in dotted.split("."))

    def binds(expr: str) -> bool:
        try:
            con.execute(f"select {expr} from s limit 0")
            return True
        except duckdb.Error:
            return False

    def sv(name: str, attr: str | None) -> str:
        if attr is None:
            return column("identities.phone.id")
        found = [e for e in (column(f"accountInfo.{attr}"),
                             column(f"identities.local.metadata.{attr}")) if binds(e)]
        return f"coalesce({', '.join(found)})" if found else "NULL"

    select = ", ".join(f"d.{col} as {name}_d, {sv(name, attr)} as {name}_s"
                       for name, col, attr in FIELDS)
    email_s = f"coalesce({sv('email', 'emails.primaryEmail')}, {column('identities.email.id')})"
    con.execute(f"""create table j as
        select coalesce(dk, sk) as email_key, d.contactid, s.id as strivacity_id, {select}
        from (select *, lower(trim(emailaddress1)) as dk from d) d
        full outer join (select *, lower(trim({email_s})) as sk from s) s on d.dk = s.sk""")
    con.execute(f"copy (select email_key, contactid, strivacity_id from j where contactid is not "
                f"null and strivacity_id is not null) to '{out / 'matches.csv'}' (header)")
    unions = " union all ".join(
        f"select contactid, strivacity_id, email_key, '{n}' as field, {n}_d as dynamics_value, "
        f"{n}_s as strivacity_value from j where contactid is not null and strivacity_id is not "
        f"null and coalesce({n}_d, '') <> coalesce({n}_s, '')" for n, _, _ in FIELDS)
    con.execute(f"copy ({unions}) to '{out / 'drift.csv'}' (header)")


RUNNERS = {"pandas": run_pandas, "datacompy": run_datacompy, "duckdb": run_duckdb}

if __name__ == "__main__":
    which, dyn_path, stv_path, out_dir = sys.argv[1:5]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    RUNNERS[which](dyn_path, stv_path, Path(out_dir))
