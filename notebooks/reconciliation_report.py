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
# Pairs contacts and accounts on primary email (and on the contact id stored on an account),
# then shows what matches, what drifted, what is duplicated and what needs a person to look.
# `recon report` runs this notebook on a schedule; every figure comes from `recon.report`.

# %% tags=["parameters"]
source: str = "sample"  # "sample" tenant, "live" pull (settings from the environment), "files"
dynamics_path: str = ""  # Dynamics contacts export, for source "files"
strivacity_path: str = ""  # Strivacity accounts export, for source "files"
fields_path: str = ""  # TOML field map overriding the defaults; empty: the defaults
run_dir: str = ""  # folder to write the run files into; empty: a scratch folder, deleted after
runs_dir: str = ""  # folder of earlier runs for the history; empty: the project's data/runs
examples: int = 5  # example rows shown per table
allow_empty: bool = False  # accept a side with zero records (refused by default)

# %%
from recon import report as rr
from recon.engine import reconcile
from recon.fields import load_fields

field_map = load_fields(fields_path or None)
dynamics, strivacity = rr.load_sides(source, dynamics_path, strivacity_path, field_map,
                                     allow_empty)
run = rr.save_run(reconcile(dynamics, strivacity, field_map), dynamics, strivacity, run_dir)
print(f"source: {source}; run folder: {run.path or 'not kept'}")

# %% [markdown]
# ## Headline figures
#
# Every record of each side is matched, only on that side, or held for review.

# %% tags=["headline"]
rr.headline(run.summary)

# %%
rr.pairs_and_batches(run.summary)

# %% [markdown]
# ## Overlap of the two systems

# %%
rr.as_png(rr.overlap_chart(run.summary))

# %% [markdown]
# ## Drift by field
#
# Matched pairs whose values differ, per field. Example rows follow the chart.

# %%
rr.as_png(rr.drift_chart(run.summary))

# %%
rr.drift_by_field(run.summary)

# %%
rr.examples(run.drift, examples, by="field")

# %% [markdown]
# ## Duplicate groups
#
# Email keys held by more than one record of one side. They are never paired or batched; the
# suggested survivor is active, then most recently updated.

# %%
rr.duplicate_groups(run.duplicates).head(examples)

# %% [markdown]
# ## Held for review

# %%
rr.review_reasons(run.summary)

# %%
rr.examples(run.review, examples, by="reason")

# %% [markdown]
# ## Example matches

# %%
rr.examples(run.matches, examples, by="match_type")

# %% [markdown]
# ## History of runs in this runs folder
#
# Match rate, drifting pairs and duplicate groups of every finished run, oldest first.

# %% tags=["history"]
history = rr.run_history(runs_dir)
history.tail(20)

# %%
rr.as_png(rr.history_chart(history)) if len(history) else "No finished runs yet."
