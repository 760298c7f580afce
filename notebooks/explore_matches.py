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
# # Explore a reconciliation run
#
# Opens a run folder (the latest under `data/runs` by default; the sample tenant reconciled on the
# fly when there is none), with searchable tables, a person look-up across both systems, a drift
# filter and an export of what you selected. Change the parameters below and re-run.
#
# Searches run in pandas over every row of the run, not in the browser: a table here shows at most
# 1,000 of the rows that match, and its caption says so when it shows a part. Set `search` to
# narrow all four tables, `query` to look one person up, `export_path` to write every row of the
# drift selection to CSV.

# %% tags=["parameters"]
run_path: str = ""  # run folder to open; empty: the latest in runs_dir, else the sample on the fly
runs_dir: str = ""  # where run folders are; empty: the project's data/runs
search: str = ""  # text to find in the four tables (any case, any column); empty: every row
query: str = ""  # part of an email or a name to look up; empty: a person from the drift table
drift_field: str = ""  # field to filter drift by; empty: the field with the most drift
export_path: str = ""  # CSV file to write the drift selection to; empty: don't write

# %%
from itables import init_notebook_mode

from recon import explore
from recon import report as rr

init_notebook_mode(all_interactive=False, connected=False)  # JavaScript embedded: works offline

folder = run_path or rr.latest_run(runs_dir)
if folder:
    run = rr.open_run(folder)
else:
    from recon.engine import reconcile

    dynamics, strivacity = rr.load_sides("sample")
    run = rr.save_run(reconcile(dynamics, strivacity), dynamics, strivacity)
print(f"run: {run.path or 'the sample tenant, reconciled just now'}")
rr.headline(run.summary)

# %% [markdown]
# ## Matches, drift, duplicates and review, searchable

# %%
explore.search(run.matches, search, name="matches")

# %%
explore.search(run.drift, search, name="drift")

# %%
explore.search(run.duplicates, search, name="duplicates")

# %%
explore.search(run.review, search, name="review")

# %% [markdown]
# ## Look a person up by email or name, across both systems

# %%
who = query or (run.drift["email_key"].dropna().iloc[0] if len(run.drift) else "@")
person = rr.find_person(run, who)
explore.search(person.records, name=f"records of both systems for {who!r} (status: matched, "
               "only or the review reason; partner_id: the record it pairs with)")

# %%
explore.search(person.drift, name=f"drift of the pairs of {who!r}")

# %% [markdown]
# ## Drift of one field

# %%
field = drift_field or (rr.drift_by_field(run.summary)["field"].iloc[0]
                        if run.summary["drift"]["fields"] else "")
selection = rr.drift_for(run.drift, field)
explore.search(selection, name=f"drift: {field or 'all fields'}")

# %% [markdown]
# ## Export the selection to CSV

# %%
print(f"written: {rr.export_csv(selection, export_path)}" if export_path else
      "Set export_path to write the selection above to a CSV file.")
