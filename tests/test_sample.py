"""The sample tenant generator: determinism, file shapes, planted cases and their truth."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon import normalize
from recon.sample import ACCOUNTS_FILE, CONTACTS_FILE, TRUTH_FILE, SampleSpec, generate
from recon.sample.cases import FIELD_DRIFT, planted_cases
from recon.sample.records import CONTACT_COLUMNS, account_line, account_record

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
REGENERATE = "recon sample --out data/sample"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CRM_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FILES = (CONTACTS_FILE, ACCOUNTS_FILE, TRUTH_FILE)


def _contacts(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / CONTACTS_FILE, dtype=str, keep_default_na=False,
                       encoding="utf-8")


def _accounts(folder: Path) -> list[dict[str, Any]]:
    with (folder / ACCOUNTS_FILE).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _truth(folder: Path) -> dict[str, Any]:
    return json.loads((folder / TRUTH_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("small"), contacts=400, accounts=380, seed=7)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", contacts=300, seed=3, drift=0.1, duplicates=0.05)
    second = generate(tmp_path / "b", contacts=300, seed=3, drift=0.1, duplicates=0.05)
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_other_records(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", contacts=300, seed=1)
    second = generate(tmp_path / "b", contacts=300, seed=2)
    assert (first / CONTACTS_FILE).read_bytes() != (second / CONTACTS_FILE).read_bytes()


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = generate(tmp_path, contacts=2000, seed=0)
    for name in FILES:
        assert (SAMPLE / name).read_bytes() == (fresh / name).read_bytes(), (
            f"data/sample/{name} is stale; regenerate it with `{REGENERATE}`")


def test_sizes_follow_the_request(small: Path) -> None:
    assert len(_contacts(small)) == 400
    assert len(_accounts(small)) == 380
    summary = _truth(small)["expected_summary"]
    assert (summary["dynamics"]["records"], summary["strivacity"]["records"]) == (400, 380)


def test_too_small_for_the_planted_cases_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ask for more records"):
        generate(tmp_path, contacts=10)


def test_bad_knob_is_refused() -> None:
    with pytest.raises(ValueError, match="outside 0..1"):
        SampleSpec(drift=1.5)


def test_contacts_csv_has_dataverse_columns_and_values(small: Path) -> None:
    with (small / CONTACTS_FILE).open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == CONTACT_COLUMNS
    rows = _contacts(small)
    assert rows["contactid"].str.match(GUID).all()
    assert rows["contactid"].is_unique
    assert set(rows["statecode"]) == {"0", "1"}
    assert rows["createdon"].str.match(CRM_TIME).all()
    assert (rows["modifiedon"] >= rows["createdon"]).all()
    assert rows["versionnumber"].str.fullmatch(r"\d+").all()


def test_accounts_ndjson_has_the_admin_api_shape(small: Path) -> None:
    accounts = _accounts(small)
    assert len({a["id"] for a in accounts}) == len(accounts)
    for account in accounts:
        assert {"id", "store", "enabled", "createdAt", "updatedAt", "language", "identities",
                "accountInfo"} <= set(account)
        assert account["store"] == "default" and isinstance(account["enabled"], bool)
        assert API_TIME.match(account["createdAt"]) and API_TIME.match(account["updatedAt"])
        assert "local" in account["identities"]
    placed = [bool(a["accountInfo"]) for a in accounts]
    assert any(placed) and not all(placed), "attributes must sit in both places"
    assert any("metadata" in a["identities"]["local"] for a in accounts)
    linked = [a for a in accounts if "crm" in a["accountInfo"]]
    assert linked and all(a["accountInfo"]["crm"]["dynamicsContactId"] for a in linked)


def test_fast_account_line_equals_the_record_shape() -> None:
    for case in planted_cases(0):
        for account in case.accounts:
            assert json.loads(account_line(account)) == account_record(account), case.name


REQUIRED_CASES = (
    "link_pair_1", "link_pair_braced", "link_pair_metadata", "link_email_changed", "email_exact_1",
    "email_case_space", "email_nbsp", "email_idn", "email_identifier_only", "email_pair_drift",
    "email_in_use", "duplicate_dynamics_2", "duplicate_dynamics_3", "duplicate_strivacity_2",
    "secondary_email2", "secondary_email3", "missing_email_dynamics_1",
    "invalid_email_dynamics_2", "missing_email_strivacity_4", "invalid_email_strivacity_5",
    "inactive_dynamics_only_1", "disabled_strivacity_only_1", "missing_family_name",
    "dangling_link", "shared_link", "drift_active_disabled", "drift_blank_winner",
    "drift_fill_dynamics_blank", "drift_case_only", "drift_many", "no_drift_phone_format",
    "no_drift_unicode_forms", "no_drift_whitespace", "csv_injection_1", "csv_injection_4",
    *(f"drift_{name}" for name in FIELD_DRIFT),
)


def test_every_case_is_planted_and_its_records_exist(small: Path) -> None:
    cases = _truth(small)["cases"]
    assert set(REQUIRED_CASES) <= set(cases)
    contact_ids = set(_contacts(small)["contactid"])
    account_ids = {a["id"] for a in _accounts(small)}
    for name, case in cases.items():
        assert case["description"] and case["expect"], name
        assert set(case["dynamics"]) <= contact_ids, name
        assert set(case["strivacity"]) <= account_ids, name


def test_summary_is_internally_consistent(small: Path) -> None:
    s = _truth(small)["expected_summary"]
    for side in ("dynamics", "strivacity"):
        block = s[side]
        assert block["records"] == block["matched"] + block["only"] + block["review"]
        assert block["review"] == sum(block["review_reasons"].values())
        assert block["matched"] == s["pairs"]["total"]
    assert s["pairs"]["total"] == s["pairs"]["by_link"] + s["pairs"]["by_email"]
    assert s["drift"]["pairs"] <= sum(s["drift"]["fields"].values())
    assert s["batches"]["update_dynamics"] <= s["drift"]["pairs"]
    assert all(v > 0 for v in s["drift"]["fields"].values()), "every field must drift somewhere"


def _records(folder: Path, case: dict[str, Any]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    contacts = _contacts(folder)
    accounts = {a["id"]: a for a in _accounts(folder)}
    return (contacts.set_index("contactid").loc[case["dynamics"]],
            [accounts[i] for i in case["strivacity"]])


def _key(value: str | None) -> Any:
    return normalize.email_key(pd.Series([value], dtype=object))[0][0]


def _primary(account: dict[str, Any]) -> str | None:
    attrs = account["accountInfo"] or account["identities"]["local"].get("metadata", {})
    email = attrs.get("emails", {}).get("primaryEmail")
    return email or account["identities"].get("email", {}).get("id")


@pytest.mark.parametrize("name", ["email_case_space", "email_nbsp", "email_idn",
                                  "email_exact_1", "email_identifier_only"])
def test_email_variants_share_one_key(small: Path, name: str) -> None:
    contacts, accounts = _records(small, _truth(small)["cases"][name])
    assert contacts["emailaddress1"].iloc[0] != "" and _primary(accounts[0])
    assert _key(contacts["emailaddress1"].iloc[0]) == _key(_primary(accounts[0]))


def test_no_drift_cases_normalise_equal_and_drift_cases_do_not(small: Path) -> None:
    cases = _truth(small)["cases"]
    contacts, accounts = _records(small, cases["no_drift_phone_format"])
    ours = normalize.phone(pd.Series([contacts["mobilephone"].iloc[0]]))[0]
    assert contacts["mobilephone"].iloc[0] != accounts[0]["identities"]["phone"]["id"]
    assert ours == accounts[0]["identities"]["phone"]["id"]
    contacts, accounts = _records(small, cases["no_drift_unicode_forms"])
    given = accounts[0]["accountInfo"]["name"]["givenName"]
    assert contacts["firstname"].iloc[0] != given
    assert normalize.text(pd.Series([contacts["firstname"].iloc[0], given])).nunique() == 1
    contacts, accounts = _records(small, cases["drift_case_only"])
    assert contacts["firstname"].iloc[0] == "anna"
    assert accounts[0]["accountInfo"]["name"]["givenName"] == "Anna"


def test_link_and_secondary_cases_point_where_the_truth_says(small: Path) -> None:
    cases = _truth(small)["cases"]
    contacts, accounts = _records(small, cases["shared_link"])
    target = contacts.index[0]
    assert [a["accountInfo"]["crm"]["dynamicsContactId"] for a in accounts] == [target] * 2
    contacts, accounts = _records(small, cases["dangling_link"])
    assert accounts[0]["accountInfo"]["crm"]["dynamicsContactId"] not in set(
        _contacts(small)["contactid"])
    contacts, accounts = _records(small, cases["secondary_email2"])
    assert _key(contacts["emailaddress2"].iloc[0]) == _key(_primary(accounts[0]))


def test_bulk_duplicates_and_drift_follow_the_knobs(tmp_path: Path) -> None:
    folder = generate(tmp_path, contacts=3000, seed=5, overlap=0.7, drift=0.2, duplicates=0.1)
    truth = _truth(folder)
    s, bulk = truth["expected_summary"], truth["bulk"]
    assert bulk["dynamics_duplicate_pairs"] == round(0.1 * (3000 - _planted(truth)) / 2)
    keys, _ = normalize.email_key(_contacts(folder)["emailaddress1"])
    assert (keys.value_counts() > 1).sum() == s["dynamics"]["duplicate_groups"]
    keys, _ = normalize.email_key(pd.Series([_primary(a) for a in _accounts(folder)]))
    assert (keys.value_counts() > 1).sum() == s["strivacity"]["duplicate_groups"]
    assert 0.15 * bulk["matched_pairs"] < s["drift"]["pairs"] < 0.25 * bulk["matched_pairs"]


def _planted(truth: dict[str, Any]) -> int:
    return sum(len(case["dynamics"]) for case in truth["cases"].values())


def _nonzero(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with zero review reasons and drift fields dropped (either form is valid)."""
    out = json.loads(json.dumps(summary))
    for side in ("dynamics", "strivacity"):
        out[side]["review_reasons"] = {k: v for k, v in out[side]["review_reasons"].items() if v}
    out["drift"]["fields"] = {k: v for k, v in out["drift"]["fields"].items() if v}
    return out


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_sample_summary_matches_truth() -> None:
    result = _reconcile_sample()
    got = _flat(_nonzero(result.summary))
    want = _flat(_nonzero(_truth(SAMPLE)["expected_summary"]))
    diff = {k: (want.get(k), got.get(k)) for k in sorted(set(got) | set(want))
            if got.get(k) != want.get(k)}
    assert not diff, "summary differs from truth.json (key: (truth, engine)):\n" + "\n".join(
        f"  {k}: {v}" for k, v in diff.items())


def _reconcile_sample() -> Any:
    engine = pytest.importorskip("recon.engine")
    dynamics_files = pytest.importorskip("recon.dynamics.files")
    strivacity_files = pytest.importorskip("recon.strivacity.files")
    return engine.reconcile(dynamics_files.read_dynamics(SAMPLE / CONTACTS_FILE),
                            strivacity_files.read_strivacity(SAMPLE / ACCOUNTS_FILE))


def test_sample_review_records_and_survivors_match_truth() -> None:
    result = _reconcile_sample()
    cases = _truth(SAMPLE)["cases"]
    planted = {i for case in cases.values() for i in case["dynamics"] + case["strivacity"]}
    want = {i: reason for case in cases.values() for i, reason in case.get("review", {}).items()}
    review = result.review[result.review["record_id"].isin(planted)]
    got = dict(zip(review["record_id"], review["reason"], strict=True))
    diff = {i: (want.get(i), got.get(i)) for i in set(want) | set(got) if want.get(i) != got.get(i)}
    assert not diff, f"planted review records differ (id: (truth, engine)): {diff}"
    survivors = dict(zip(result.duplicates["record_id"], result.duplicates["suggested_survivor"],
                         strict=True))
    for name, case in cases.items():
        if "suggested_survivor" in case:
            ids = case["dynamics"] + case["strivacity"]
            assert {survivors[i] for i in ids} == {case["suggested_survivor"]}, name


def test_sample_drift_rows_match_truth() -> None:
    result = _reconcile_sample()
    cases = _truth(SAMPLE)["cases"]
    drift = result.drift
    for name, case in cases.items():
        rows = drift[drift["contactid"].isin(case["dynamics"])]
        got = {f: ("report" if a == "report" else "update") for f, a in
               zip(rows["field"], rows["action"], strict=True)}
        want = {f: ("report" if a == "report" else "update")
                for f, a in case.get("drift", {}).items()}
        assert got == want, f"{name}: drift rows {got}, truth {want}"
