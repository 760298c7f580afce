"""A first-sync tenant: every matched pair differs in every text field (issue 11's 10M case).

    python benchmarks/first_sync.py --contacts 3000000 [--seed 1] [--out benchmarks/out/...]

Generates the benchmark tenant (``recon.sample.generate``, 100% overlap) and rewrites the
Dynamics export so that each contact's names and address differ from its account's (a ``-d``
suffix) and its ``statecode`` flips: a system pair that was never kept in step. The run folder
of such a tenant has a drift row per pair and field and an update line per pair, the shape
that broke the writer's single arrays (``ArrowCapacityError``) before it streamed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

HERE = Path(__file__).resolve().parent
TEXT = ("firstname", "middlename", "lastname", "address1_line1", "address1_city",
        "address1_stateorprovince", "address1_postalcode", "address1_country")


def drifted(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Every text column suffixed (a blank becomes ``-d``), ``statecode`` flipped."""
    columns = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name in TEXT:
            column = pc.binary_join_element_wise(pc.fill_null(column, ""), "-d", "")
        elif name == "statecode":
            column = pc.if_else(pc.equal(column, "0"), "1", "0")
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def make(contacts: int, seed: int, out: Path) -> Path:
    from recon.sample import generate

    if (out / "truth.json").exists():
        return out
    generate(out, contacts=contacts, accounts=contacts, seed=seed, overlap=1.0)
    source = out / "dynamics_contacts.csv"
    target = out / "dynamics_contacts.drifted.csv"
    names = pv.open_csv(source).schema.names
    reader = pv.open_csv(source, convert_options=pv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True))
    with pv.CSVWriter(target, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(drifted(batch))
    target.replace(source)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or HERE / "out" / f"first-sync-{args.contacts}-{args.seed}"
    print(make(args.contacts, args.seed, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
