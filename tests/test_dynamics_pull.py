"""Pulling Dataverse contacts end to end: real msal and requests over TLS against the emulator."""

from __future__ import annotations

import csv
import json
import random
import uuid
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import requests

from recon.dynamics.client import DataverseClient, NextLinkPages
from recon.dynamics.delta import DeltaFallbackWarning, apply_changes, load_state
from recon.dynamics.files import read_dynamics
from recon.dynamics.pages import ArrowPages, memory_pool
from recon.dynamics.pull import (
    _filters_after,
    _Head,
    lookup,
    pull_dynamics,
    pull_dynamics_raw,
    range_filters,
    read_pages,
    to_frame,
)
from recon.emulator import Emulator, Faults
from recon.errors import AuthError, ConfigError, HttpError
from recon.fields import DYNAMICS_COLUMNS
from recon.http import PageRequest
from recon.retry import RetryPolicy
from recon.settings import DataverseSettings

ROWS = 300
PAGE = 37
SPECIAL = ["o'brien@example.com", "obrien@example.com", "jo+news@example.com",
           "jo news@example.com", "100%real@example.com", "100xreal@example.com",
           "zoë@exämple.de", "zoe@example.de", "a_b@example.com", "axb@example.com"]
COLUMNS = ["contactid", "emailaddress1", "emailaddress2", "firstname", "lastname", "mobilephone",
           "telephone1", "address1_city", "address1_country", "statecode", "createdon",
           "modifiedon", "versionnumber"]


def write_seed(path: Path, rows: int = ROWS) -> Path:
    """A deterministic contacts CSV: plain rows, tricky emails, shared createdon values."""
    rng = random.Random(7)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        for i in range(rows):
            created = start + timedelta(hours=rng.randrange(0, 24 * 400)) if i % 10 else start
            writer.writerow({
                "contactid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "emailaddress1": SPECIAL[i] if i < len(SPECIAL) else f"user{i}@example.com",
                "emailaddress2": f"alt{i}@example.org" if i % 7 == 0 else "",
                "firstname": f"Given{i}", "lastname": f"Family {i}",
                "mobilephone": f"+4420794609{i % 100:02d}" if i % 3 else "",
                "telephone1": "020 7946 0000" if i % 5 == 0 else "",
                "address1_city": "Zürich" if i % 4 == 0 else "London",
                "address1_country": "CH" if i % 4 == 0 else "GB",
                "statecode": str(i % 9 == 0 and 1 or 0),
                "createdon": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "modifiedon": (created + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "versionnumber": str(1000 + i),
            })
    return path


class Counting:
    """A progress object that records what a pull reported."""

    def __init__(self, on_page: object = None) -> None:
        self.rows = self.pages = 0
        self._on_page = on_page

    def update(self, rows: int, pages: int = 1) -> None:
        self.rows += rows
        self.pages += pages
        if callable(self._on_page):
            self._on_page(self.pages)

    def close(self) -> None:
        return None


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return write_seed(tmp_path / "contacts.csv")


@pytest.fixture
def emu(seed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=seed, strivacity=[], faults=Faults(),
                           port=0) as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("record_id", ignore_index=True)


def test_full_pull_equals_reading_the_seed_file(emu: Emulator, seed: Path,
                                                retry: RetryPolicy) -> None:
    progress = Counting()
    pulled = pull_dynamics(progress=progress, retry=retry, page_size=PAGE)
    expected = read_dynamics(seed)
    assert list(pulled.columns[:len(DYNAMICS_COLUMNS)]) == list(DYNAMICS_COLUMNS)
    pd.testing.assert_frame_equal(by_id(pulled)[list(DYNAMICS_COLUMNS)],
                                  by_id(expected)[list(DYNAMICS_COLUMNS)])
    assert progress.rows == ROWS and progress.pages == -(-ROWS // PAGE)


def test_every_row_arrives_once_under_throttling_errors_and_token_loss(
        emu: Emulator, retry: RetryPolicy, waits: list[float],
        caplog: pytest.LogCaptureFixture) -> None:
    emu.faults.throttle_every = 3
    emu.faults.error_rate = 0.2
    emu.faults.latency = 0.002

    def lose_tokens(pages: int) -> None:
        if pages in (2, 5):
            emu.revoke_tokens()

    raw = pull_dynamics_raw(progress=Counting(lose_tokens), retry=retry, page_size=PAGE)
    assert len(raw) == ROWS and raw["contactid"].is_unique
    assert 1.0 in waits, "a 429 must wait for the server's Retry-After"
    assert emu.requests.count(path="/api/data/", status=401) == 2
    assert emu.requests.count(path="/api/data/", status=429) >= 3
    assert "duplicate" not in caplog.text


def test_a_429_is_honoured_even_when_retries_run_out(emu: Emulator) -> None:
    emu.faults.throttle_every = 1
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=3, sleep=slept.append)
    with pytest.raises(Exception, match="429") as caught:
        pull_dynamics_raw(retry=policy, page_size=PAGE)
    assert getattr(caught.value, "status", None) == 429
    assert slept == [1.0, 1.0]


def test_wrong_secret_is_an_auth_error(emu: Emulator, retry: RetryPolicy,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(AuthError, match="AZURE_CLIENT_ID"):
        pull_dynamics_raw(retry=retry)


def test_delta_pull_after_edits_equals_a_fresh_full_pull(emu: Emulator, tmp_path: Path,
                                                         retry: RetryPolicy) -> None:
    state = tmp_path / "state" / "contacts.delta.json"
    first = pull_dynamics(delta=state, retry=retry, page_size=PAGE)
    assert len(first) == ROWS and load_state(state) is not None
    ids = sorted(first["record_id"])
    emu.contacts.update(ids[0], {"firstname": "Renamed", "emailaddress1": "new@example.com"})
    emu.contacts.update(ids[1], {"statecode": 1})
    emu.contacts.delete(ids[2])
    emu.contacts.delete(ids[3])
    second = pull_dynamics(delta=state, retry=retry, page_size=PAGE)
    fresh = pull_dynamics(retry=retry, page_size=PAGE)
    pd.testing.assert_frame_equal(by_id(second), by_id(fresh))
    assert set(second.attrs["deleted"]) == {ids[2], ids[3]}
    assert second.loc[second["record_id"] == ids[0], "given_name"].item() == "Renamed"
    third = pull_dynamics(delta=state, retry=retry, page_size=PAGE)
    pd.testing.assert_frame_equal(by_id(third), by_id(fresh))
    assert third.attrs["deleted"] == ()


def test_a_refused_delta_link_falls_back_to_a_full_pull(emu: Emulator, tmp_path: Path,
                                                        retry: RetryPolicy) -> None:
    state = tmp_path / "contacts.delta.json"
    pull_dynamics_raw(delta=state, retry=retry, page_size=PAGE)
    old_link = json.loads(state.read_text())["delta_link"]
    emu.expire_delta_tokens()
    emu.contacts.delete(emu.contacts.ids()[0])
    with pytest.warns(DeltaFallbackWarning, match="refused"):
        raw = pull_dynamics_raw(delta=state, retry=retry, page_size=PAGE)
    assert len(raw) == ROWS - 1 and raw["contactid"].is_unique
    assert (load_state(state) or pytest.fail("no state")).delta_link != old_link


@pytest.mark.parametrize("email", SPECIAL)
def test_lookup_finds_exactly_its_contact(emu: Emulator, seed: Path, retry: RetryPolicy,
                                          email: str) -> None:
    seeded = pd.read_csv(seed, dtype=str, keep_default_na=False)
    expected = seeded.loc[seeded["emailaddress1"] == email, "contactid"].tolist()
    found = lookup(email, retry=retry)
    assert found["contactid"].tolist() == expected
    assert found["emailaddress1"].tolist() == [email]


@pytest.mark.parametrize("attack", ["x' or emailaddress1 ne 'x", "' or 1 eq 1 or '",
                                    "user1@example.com' or contactid ne null or 'a",
                                    "x&$top=1", "%", "_@example.com", "*"])
def test_lookup_cannot_widen_the_filter(emu: Emulator, retry: RetryPolicy, attack: str) -> None:
    assert lookup(attack, retry=retry).empty


def test_four_streams_give_the_same_rows_as_one(emu: Emulator, retry: RetryPolicy) -> None:
    settings = DataverseSettings.from_env()
    one = pull_dynamics_raw(settings, retry=retry, page_size=PAGE)
    progress = Counting()
    four = pull_dynamics_raw(settings, streams=4, retry=retry, page_size=PAGE,
                             progress=progress)
    assert progress.rows == ROWS
    pd.testing.assert_frame_equal(one.sort_values("contactid", ignore_index=True),
                                  four.sort_values("contactid", ignore_index=True))


def test_a_paged_pull_keeps_one_connection_alive(emu: Emulator, retry: RetryPolicy) -> None:
    # Bodies are read streamed; closing a response must hand its connection back, not drop it.
    before, served = emu.connections, emu.requests.count("GET", "/api/data/v9.2/contacts")
    assert len(pull_dynamics_raw(retry=retry, page_size=PAGE)) == ROWS
    assert emu.requests.count("GET", "/api/data/v9.2/contacts") - served > 3
    assert emu.connections - before == 1


@pytest.mark.parametrize("streams", [1, 4])
def test_pulled_rows_live_in_the_pool_that_returns_memory(
        emu: Emulator, retry: RetryPolicy, streams: int) -> None:
    # A copy made in pyarrow's default pool (combine_chunks ignores the pool it is given)
    # would leave the frame's buffers where freed memory stays with the thread that freed it.
    before = memory_pool().bytes_allocated()
    frame = pull_dynamics_raw(streams=streams, retry=retry, page_size=PAGE)
    arrow = sum(frame[c].array.__arrow_array__().get_total_buffer_size() for c in frame.columns)
    assert memory_pool().bytes_allocated() - before >= arrow > 0


@pytest.mark.parametrize("page_size", [20, 500])
def test_streams_split_ties_at_the_first_page_and_a_table_on_one_page(
        emu: Emulator, retry: RetryPolicy, page_size: int) -> None:
    # 30 rows share the earliest createdon: a 20-row first page holds only tied rows, which
    # the ranges must bring; 500 rows fit the first page, so only undated rows are asked for.
    one = pull_dynamics_raw(retry=retry, page_size=page_size)
    progress = Counting()
    three = pull_dynamics_raw(streams=3, retry=retry, page_size=page_size, progress=progress)
    assert progress.rows == ROWS
    pd.testing.assert_frame_equal(one.sort_values("contactid", ignore_index=True),
                                  three.sort_values("contactid", ignore_index=True))
    # the first page, then each range in turn: the same order on every run
    pd.testing.assert_frame_equal(three, pull_dynamics_raw(streams=3, retry=retry,
                                                           page_size=page_size))


def test_eight_streams_ask_the_bounds_and_first_page_together_then_eight_ranges(
        emu: Emulator, retry: RetryPolicy) -> None:
    emu.requests.clear()
    assert len(pull_dynamics_raw(streams=8, retry=retry, page_size=100)) == ROWS
    served = [entry for entry in emu.requests if entry.path.endswith("/contacts")]
    # 2 together, then 8 ranges of ~25 rows: one page each, and no ninth query for nulls
    assert len(served) == 10


def test_a_row_seen_twice_keeps_its_last_copy(caplog: pytest.LogCaptureFixture) -> None:
    table = pa.table({"contactid": ["a", "b", "b", "c"], "firstname": ["A", "B1", "B2", "C"]})
    frame = to_frame(table)
    assert frame.to_dict("list") == {"contactid": ["a", "b", "c"],
                                     "firstname": ["A", "B2", "C"]}
    assert "dropped 1 duplicate" in caplog.text
    assert len(to_frame(table.slice(2))) == 2


def test_a_twin_far_from_its_first_copy_or_a_second_missing_id_is_dropped(
        caplog: pytest.LogCaptureFixture) -> None:
    apart = pa.table({"contactid": ["b", "a", "c", "b"], "firstname": ["B1", "A", "C", "B2"]})
    assert to_frame(apart).to_dict("list") == {"contactid": ["a", "c", "b"],
                                               "firstname": ["A", "C", "B2"]}
    missing = pa.table({"contactid": ["a", "b", None, None], "firstname": ["A", "B", "1", "2"]})
    assert to_frame(missing)["firstname"].tolist() == ["A", "B", "2"]
    assert caplog.text.count("dropped 1 duplicate") == 2


def test_the_ranges_after_the_first_page_bring_every_row_it_lacks() -> None:
    empty = pa.table({"contactid": pa.array([], pa.string())})
    cut, high = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert _filters_after(_Head(empty, None, high, complete=True), 2) == ["createdon eq null"]
    assert _filters_after(_Head(empty, None, high), 2) == [
        "(createdon ne null) or (createdon eq null)"]
    assert _filters_after(_Head(empty, cut, high), 2) == [
        "((createdon ge 2024-01-01T00:00:00Z) and (createdon lt 2024-01-02T00:00:00Z)) or "
        "(createdon eq null)",
        "createdon ge 2024-01-02T00:00:00Z"]


def test_range_filters_cover_without_overlap() -> None:
    low, high = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 5, tzinfo=UTC)
    assert range_filters(low, high, 4) == [
        "createdon lt 2024-01-02T00:00:00Z",
        "(createdon ge 2024-01-02T00:00:00Z) and (createdon lt 2024-01-03T00:00:00Z)",
        "(createdon ge 2024-01-03T00:00:00Z) and (createdon lt 2024-01-04T00:00:00Z)",
        "createdon ge 2024-01-04T00:00:00Z",
    ]
    assert range_filters(low, low, 4) == ["createdon ne null"]


class FakeResponse:
    def __init__(self, status: int, body: object = None, headers: dict | None = None) -> None:
        self.status_code, self._body = status, body
        self.headers = headers or {}
        self.reason, self.url = "Reason", "https://org.example/api"

    @property
    def content(self) -> bytes:
        return b"" if self._body is None else json.dumps(self._body).encode()

    def json(self) -> object:
        return json.loads(self.content)

    def iter_content(self, size: int) -> Iterator[bytes]:
        content = self.content
        yield from (content[at:at + size] for at in range(0, len(content), size))
        if len(content) < int(self.headers.get("Content-Length", len(content))):
            # what requests raises when urllib3 finds the body shorter than announced
            raise requests.exceptions.ChunkedEncodingError("IncompleteRead")

    def close(self) -> None:
        pass


class FakeSession:
    """The session seam for unit tests: canned answers, every request recorded."""

    def __init__(self, *answers: FakeResponse) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method: str, url: str, *, headers: dict, **kwargs: object) -> FakeResponse:
        self.sent.append((method, url, headers))
        return self.answers.pop(0)


class FakeTokens:
    def __init__(self) -> None:
        self.issued = self.dropped = 0

    def token(self) -> str:
        self.issued += 1
        return f"t{self.issued}"

    def invalidate(self) -> None:
        self.dropped += 1


def client_with(*answers: FakeResponse) -> tuple[DataverseClient, FakeSession, FakeTokens]:
    session, tokens = FakeSession(*answers), FakeTokens()
    policy = RetryPolicy(backoff_base=0.0, sleep=lambda _s: None)
    client = DataverseClient(session, tokens, "https://org.example/", policy)  # type: ignore[arg-type]
    return client, session, tokens


def test_a_body_cut_off_mid_read_is_asked_for_again_and_read_into_arrow() -> None:
    page = {"value": [{"contactid": "a", "emailaddress1": "a@example.com"}]}
    whole = len(json.dumps(page))
    client, session, _ = client_with(
        FakeResponse(200, page, {"Content-Length": str(whole + 7)}),  # 7 bytes never came
        FakeResponse(200, page, {"Content-Length": str(whole)}))
    got = client.get_json(PageRequest(client.url("contacts")),
                          decode=ArrowPages(["contactid", "emailaddress1"]))
    assert len(session.sent) == 2
    assert got["value"].column("emailaddress1").to_pylist() == ["a@example.com"]


def test_a_body_without_a_length_is_read_whole_and_a_page_arrow_declines_goes_to_json() -> None:
    nested = {"value": [{"contactid": "a", "emailaddress1": {"nested": True}}]}
    client, _, _ = client_with(FakeResponse(200, nested), FakeResponse(200, nested))
    decode = ArrowPages(["contactid", "emailaddress1"])
    assert client.get_json(PageRequest(client.url("contacts")), decode=decode) == nested
    body = decode.read(FakeResponse(200, nested))  # type: ignore[arg-type]
    assert isinstance(body, pa.Buffer) and bytes(body) == json.dumps(nested).encode()


def test_401_drops_the_token_and_retries_once() -> None:
    client, session, tokens = client_with(FakeResponse(401, {}), FakeResponse(200, {"value": []}))
    assert client.request("GET", client.url("contacts")).status_code == 200
    assert tokens.dropped == 1
    assert [s[2]["Authorization"] for s in session.sent] == ["Bearer t1", "Bearer t2"]


def test_a_second_401_is_an_auth_error() -> None:
    client, _, tokens = client_with(FakeResponse(401, {}), FakeResponse(401, {"error": {
        "code": "0x80072560", "message": "The user is not a member of the organization."}}))
    with pytest.raises(AuthError, match="not a member.*code 0x80072560.*application user"):
        client.request("GET", client.url("contacts"))
    assert tokens.dropped == 1


def test_a_failed_post_is_not_repeated_but_a_throttled_one_is() -> None:
    client, session, _ = client_with(FakeResponse(503, {}))
    with pytest.raises(HttpError) as caught:
        client.request("POST", client.url("contacts"), json={})
    assert caught.value.status == 503 and len(session.sent) == 1
    client, session, _ = client_with(FakeResponse(429, {}, {"Retry-After": "0"}),
                                     FakeResponse(204))
    assert client.request("POST", client.url("contacts"), json={}).status_code == 204
    assert len(session.sent) == 2


def test_odata_headers_and_page_size_preference_are_sent() -> None:
    client, session, _ = client_with(FakeResponse(200, {"value": []}))
    client.get_json(PageRequest(client.url("contacts")),
                    ["odata.maxpagesize=5000", "odata.track-changes"])
    method, url, headers = session.sent[0]
    assert (method, url) == ("GET", "https://org.example/api/data/v9.2/contacts")
    assert headers["OData-Version"] == "4.0" and headers["Accept"] == "application/json"
    assert headers["Prefer"] == "odata.maxpagesize=5000,odata.track-changes"


def test_next_link_is_followed_verbatim() -> None:
    link = "https://org.example/api/data/v9.2/contacts?$select=x&$skiptoken=%3Ccookie%20a%3D%22%257b%22%3E"
    client, session, _ = client_with(FakeResponse(200, {"value": [], "@odata.nextLink": link}),
                                     FakeResponse(200, {"value": []}))
    list(client.pages(NextLinkPages(PageRequest(client.url("contacts"), {"$select": "x"}))))
    assert session.sent[1][1] == link


def test_apply_changes_replaces_and_drops_rows_without_touching_inputs() -> None:
    previous = pd.DataFrame({"contactid": ["a", "b", "c"], "firstname": ["A", "B", "C"]})
    changed = pd.DataFrame({"contactid": ["b", "d"], "firstname": ["B2", "D"]})
    before = previous.copy()
    merged = apply_changes(previous, changed, ["C"])
    assert merged.to_dict("list") == {"contactid": ["a", "b", "d"],
                                      "firstname": ["A", "B2", "D"]}
    pd.testing.assert_frame_equal(previous, before)


def test_certificate_credentials_sign_in(emu: Emulator, retry: RetryPolicy,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH",
                       emu.info["client_certificate"])
    assert len(pull_dynamics_raw(retry=retry, page_size=PAGE)) == ROWS


class Body(dict):
    """A JSON page that can be watched with a weak reference."""


def test_each_page_of_json_is_released_before_the_next_is_fetched() -> None:
    link = "https://org.example/api/data/v9.2/contacts?$skiptoken=n"
    bodies = [Body(value=[{"contactid": f"id{p}{i}", "emailaddress1": "x@y.z", "statecode": 0}
                          for i in range(3)], **({"@odata.nextLink": link} if p < 3 else {}))
              for p in range(4)]
    refs = [weakref.ref(b) for b in bodies]
    client, session, _ = client_with(*(FakeResponse(200, b) for b in bodies))
    alive_at_fetch: list[int] = []
    answer = session.request

    def request(method: str, url: str, *, headers: dict, **kwargs: object) -> FakeResponse:
        alive_at_fetch.append(sum(r() is not None for r in refs))
        return answer(method, url, headers=headers, **kwargs)

    session.request = request  # type: ignore[method-assign]
    del bodies
    session.answers = [FakeResponse(200, r()) for r in refs]
    chunked = read_pages(client, PageRequest(client.url("contacts")), ["contactid",
                         "emailaddress1", "statecode"], Counting())
    assert chunked.table.num_rows == 12
    assert chunked.table.column("statecode").to_pylist()[:1] == ["0"]
    assert alive_at_fetch == [4, 3, 2, 1], "a page's JSON must be dropped before the next GET"


def test_delta_and_streams_do_not_mix() -> None:
    settings = DataverseSettings("https://org.example", "t", "c")
    with pytest.raises(ConfigError, match="--delta and --streams"):
        pull_dynamics_raw(settings, streams=2, delta="state.json")
