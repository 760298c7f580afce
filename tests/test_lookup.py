"""`recon lookup` against the emulator: the engine's decision for one person, from two APIs."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from recon.api import read_both
from recon.cli import main
from recon.emulator import Emulator
from recon.engine import reconcile
from recon.fields import DEFAULT_FIELDS
from recon.lookup import email_forms, lookup_person
from recon.resources import sample_dir
from recon.settings import VARIABLES

CONTACTS = sample_dir() / "dynamics_contacts.csv"
ACCOUNTS = sample_dir() / "strivacity_accounts.ndjson"


@pytest.fixture(scope="module")
def full_run() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What a reconcile of the whole sample tenant decides: the lookup's reference."""
    dynamics, strivacity = read_both(CONTACTS, ACCOUNTS, DEFAULT_FIELDS)
    return dynamics, strivacity, reconcile(dynamics, strivacity).buckets


@pytest.fixture()
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with Emulator(CONTACTS, ACCOUNTS) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RECON_PROGRESS", "0")
        yield emu


def test_the_input_is_normalised_as_the_engine_does() -> None:
    key, forms = email_forms("  MAILTO:<Anna.Roe@Straße.DE> ")
    assert key == "anna.roe@xn--strae-oqa.de"
    assert forms == ["Anna.Roe@Straße.DE", key, "anna.roe@straße.de"]
    with pytest.raises(Exception, match="not an email address"):
        email_forms("not-an-address")


def _keys_by_reason(full_run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> list[str]:
    """One email key per decision the sample holds: link and email pairs, only, each reason."""
    dynamics, strivacity, buckets = full_run
    keyed = pd.concat([dynamics[["record_id", "email_key"]].assign(side="dynamics"),
                       strivacity[["record_id", "email_key"]].assign(side="strivacity")])
    merged = buckets.merge(keyed, on=["side", "record_id"]).dropna(subset=["email_key"])
    merged = merged.assign(kind=merged["bucket"].astype(str) + ":"
                           + merged["reason"].astype("string").fillna(""))
    return sorted(merged.groupby("kind")["email_key"].first())


def test_lookup_decides_as_a_full_reconcile_for_every_kind_of_record(
        emulator: Emulator, full_run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    keys = _keys_by_reason(full_run)
    reference = full_run[2].set_index(["side", "record_id"])
    kinds_seen = set()
    for key in keys:
        found = lookup_person(key.upper())
        assert found.buckets is not None and not found.records.empty, key
        holders = found.records[found.records["email"].str.lower().str.strip() != ""]
        for record in found.buckets.to_dict("records"):
            want = reference.loc[(record["side"], record["record_id"])]
            assert (record["bucket"], record["reason"] if pd.notna(record["reason"]) else None) \
                == (want["bucket"], want["reason"] if pd.notna(want["reason"]) else None), \
                (key, record)
            kinds_seen.add((want["bucket"], want["reason"]))
        assert len(holders) >= 1
    reasons = {r for _, r in kinds_seen if isinstance(r, str)}
    assert {"duplicate_email", "dangling_link"} <= reasons, reasons


def test_the_cli_prints_the_decision_and_the_pair(
        emulator: Emulator, full_run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
        capsys: pytest.CaptureFixture[str]) -> None:
    dynamics, _, buckets = full_run
    matched = buckets[(buckets["side"] == "dynamics") & (buckets["bucket"] == "matched")]
    contact = dynamics.set_index("record_id").loc[matched["record_id"].iloc[0]]
    assert main(["lookup", f" mailto:{str(contact['email']).upper()} "]) == 0
    out = capsys.readouterr().out
    assert f"has the key {contact['email_key']!r}" in out
    assert "matched by" in out and matched["record_id"].iloc[0] in out


def test_one_system_lists_records_without_deciding(
        emulator: Emulator, full_run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
        capsys: pytest.CaptureFixture[str]) -> None:
    _, strivacity, _ = full_run
    account = strivacity.dropna(subset=["email_key"]).iloc[0]
    assert main(["lookup", str(account["email"]), "--in", "strivacity"]) == 0
    out = capsys.readouterr().out
    assert account["record_id"] in out and "needs both systems" in out


def test_a_missing_setting_of_the_system_asked_for_is_exit_2(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STRIVACITY_URL")
    assert main(["lookup", "a@example.com", "--in", "dynamics"]) == 0
    assert main(["lookup", "a@example.com"]) == 2
    assert "STRIVACITY_URL" in capsys.readouterr().err


CONTACT = "00000000-0000-0000-0000-0000000000c1"


@pytest.fixture()
def small(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A contact stored with a Unicode domain and spaces, an account linking to it under another
    address, and an account holding the contact's address in punycode."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    contacts = [{"contactid": CONTACT, "emailaddress1": " Anna@Straße.de ", "lastname": "Roe",
                 "statecode": 0},
                {"contactid": "00000000-0000-0000-0000-0000000000c2",
                 "emailaddress1": "anna@strasse.de", "lastname": "Other", "statecode": 0}]
    accounts = [{"id": "s-linked", "enabled": True,
                 "identities": {"email": {"id": "roe.work@example.com"}},
                 "accountInfo": {"crm": {"dynamicsContactId": CONTACT}}},
                {"id": "s-puny", "enabled": True,
                 "identities": {"email": {"id": "anna@xn--strae-oqa.de"}}}]
    with Emulator(contacts, accounts) as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RECON_PROGRESS", "0")
        yield emu


def _decisions(found: object) -> dict[str, str]:
    records = found.records  # type: ignore[attr-defined]
    return dict(zip(records["record_id"], records["decision"], strict=True))


def test_any_form_of_the_address_finds_the_same_people_and_their_links(small: Emulator) -> None:
    for typed in ("anna@xn--strae-oqa.de", " MAILTO:<ANNA@STRASSE.DE> ".replace("SS", "ß"),
                  "Anna@Straße.de"):
        decisions = _decisions(lookup_person(typed))
        assert decisions[CONTACT] == "matched by link with account s-linked", typed
        assert decisions["s-linked"] == f"matched by link with contact {CONTACT}"
        # the punycode account holds the linked contact's address: email_in_use on Strivacity
        assert decisions["s-puny"] == "review: email_in_use", decisions
        assert "00000000-0000-0000-0000-0000000000c2" not in decisions  # strasse is not straße


def test_an_account_found_by_its_own_address_brings_the_contact_it_links_to(
        small: Emulator) -> None:
    decisions = _decisions(lookup_person("Roe.Work@Example.com"))
    assert decisions == {CONTACT: "matched by link with account s-linked",
                         "s-linked": f"matched by link with contact {CONTACT}"}
