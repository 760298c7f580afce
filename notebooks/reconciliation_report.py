# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reconciliation report: Dynamics 365 contacts and Strivacity accounts
#
# recon pairs each Dynamics contact with a Strivacity account, first by the contact id stored
# on the account (the link), then by primary email. This report shows what pairs, what differs
# between the two sides of a pair, what is duplicated, what a person needs to look at, and what
# the batches in the run folder would change. `recon report` runs this notebook on a schedule.

# %% tags=["parameters"]
source: str = "sample"  # "sample" tenant, "live" pull (settings from the environment), "files"
dynamics_path: str = ""  # Dynamics contacts export, for source "files"
strivacity_path: str = ""  # Strivacity accounts export, for source "files"
source_name: str = ""  # what the report calls the data's origin, e.g. "the recon emulator"
fields_path: str = ""  # TOML field map overriding the defaults; empty: the defaults
run_dir: str = ""  # folder to write the run files into; empty: a scratch folder, deleted after
runs_dir: str = ""  # folder of earlier runs for the history; empty: the project's data/runs
examples: int = 5  # example rows shown per table
allow_empty: bool = False  # accept a side with zero records (refused by default)
engine: str = "numpy"  # which engine reconciles: "numpy" (default), "duckdb" or "spark"
memory_limit: str = ""  # with engine "duckdb": e.g. "4GB"; empty: DuckDB's default
temp_dir: str = ""  # with engine "duckdb": where it spills; empty: the system's temporary folder
spark_master: str = ""  # with engine "spark": e.g. "local[2]"; empty: session, SPARK_REMOTE, local

# %%
from datetime import UTC, datetime

from recon import report as rr
from recon import report_tables as rt
from recon.engine import reconcile
from recon.fields import load_fields

field_map = load_fields(fields_path or None)
read_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
dynamics, strivacity = rr.load_sides(source, dynamics_path, strivacity_path, field_map,
                                     allow_empty)
result = reconcile(dynamics, strivacity, field_map, engine=engine,
                   memory_limit=memory_limit or None, temp_dir=temp_dir or None,
                   spark_master=spark_master or None)
run = rr.save_run(result, dynamics, strivacity, run_dir)
rt.source_note(source, dynamics_path, strivacity_path, source_name, run.path, read_at)

# %% [markdown]
# ## Headline figures

# %%
rt.headline_note(run.summary)

# %% tags=["headline"]
rt.headline(run.summary)

# %% [markdown]
# ## How records were paired

# %%
rt.pairs(run.summary, field_map.link_attribute)

# %% [markdown]
# ## Overlap of the two systems

# %%
rr.as_png(rr.overlap_chart(run.summary))

# %% [markdown]
# ## What the batches would change
#
# Each batch is a file in the run folder; `recon apply` sends it (a dry run first). Nothing is
# sent by this report.

# %%
rt.batches(run.summary)

# %% [markdown]
# ### Why Update Strivacity is larger than the drift
#
# Besides fields that Dynamics wins, Update Strivacity writes the link (the Dynamics contact
# id) onto every account that should carry it and does not yet.

# %%
rt.strivacity_updates_note(run.summary, run.drift)

# %%
rt.strivacity_updates(run.summary, run.drift)

# %% [markdown]
# ## Drift by field
#
# Paired records whose values differ, per field, and what happens to each difference. The
# field map names the side that wins a field: *Update Dynamics* writes Strivacity's value into
# the contact, *Update Strivacity* writes Dynamics' value onto the account. A difference that
# cannot be written safely is *only reported*, with the reason (explained below the examples).

# %%
rr.as_png(rr.drift_chart(run.summary))

# %%
rt.drift_fields(run.summary, run.drift)

# %% [markdown]
# ### Examples of differences
#
# Up to five per field. Every row, with both record ids, is in drift.csv.

# %%
rt.drift_examples(run.drift, examples)

# %% [markdown]
# ### Why some differences are only reported

# %%
rt.drift_reasons(run.drift)

# %% [markdown]
# ## Duplicate groups
#
# Emails held by more than one record of one system. They are never paired or batched; the
# suggested survivor is the active record, then the most recently updated one.

# %%
rt.duplicates(rr.duplicate_groups(run.duplicates), examples)

# %% [markdown]
# ## Held for review
#
# Records recon will not pair or create on its own, and why. Fix the cause in the source
# system; the next run picks the record up.

# %%
rt.review(run.summary)

# %%
rt.review_examples(run.review, examples)

# %% [markdown]
# ## Example pairs

# %%
rt.match_examples(run.matches, examples)

# %% [markdown]
# ## History of runs in this runs folder
#
# Match rate, pairs with a difference and duplicate groups of every finished run, oldest first.

# %% tags=["history"]
history = rr.run_history(runs_dir)
rt.history(history)

# %%
rr.as_png(rr.history_chart(history)) if len(history) else rt.note("No finished runs yet.")
