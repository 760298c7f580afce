"""Entra and Dataverse in the emulator, through the real msal and requests over TLS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import msal
import pytest
import requests

from recon.emulator import Emulator, Faults, parse_faults

API = "/api/data/v9.2/"


def guid(n: int) -> str:
    return str(uuid.UUID(int=n))


CONTACTS = [
    {"contactid": "{" + guid(n).upper() + "}", "emailaddress1": f"user{n}@example.com",
     "firstname": f"First{n}", "lastname": "O'Bryan" if n == 3 else f"Last{n}",
     "statecode": str(n % 2), "versionnumber": str(100 + n),
     "createdon": "2024-01-01T00:00:00Z", "modifiedon": f"2024-03-{n % 28 + 1:02d}T10:00:00Z"}
    for n in range(1, 24)
]


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(dynamics=CONTACTS, strivacity=[]) as emulator:
        for name, value in emulator.env().items():
            monkeypatch.setenv(name, value)
        yield emulator


def msal_app(emu: Emulator, credential: Any = None) -> msal.ConfidentialClientApplication:
    info = emu.info
    return msal.ConfidentialClientApplication(
        info["client_id"], client_credential=credential or info["client_secret"],
        authority=f"{info['authority_host']}/{info['tenant_id']}", instance_discovery=False,
        http_cache={})


def session(emu: Emulator) -> requests.Session:
    result = msal_app(emu).acquire_token_for_client([emu.info["dataverse_url"] + "/.default"])
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {result['access_token']}",
                         "Accept": "application/json", "OData-Version": "4.0"})
    return http


def url(emu: Emulator, path: str) -> str:
    return emu.info["dataverse_url"] + API + path


def pull(http: requests.Session, first: str, prefer: str) -> tuple[list[dict[str, Any]], dict]:
    """Follow nextLink verbatim; returns every row and the last page."""
    rows, link = [], first
    while True:
        page = http.get(link, headers={"Prefer": prefer})
        assert page.status_code == 200, page.text
        body = page.json()
        rows += body["value"]
        if "@odata.nextLink" not in body:
            return rows, body
        link = body["@odata.nextLink"]


def test_msal_gets_a_token_with_secret_and_with_certificate(emu: Emulator) -> None:
    scope = [emu.info["dataverse_url"] + "/.default"]
    assert msal_app(emu).acquire_token_for_client(scope)["token_type"] == "Bearer"
    with open(emu.info["client_certificate"]) as pem:
        cert = {"private_key": pem.read(),
                "thumbprint": emu.info["client_certificate_thumbprint"]}
    assert "access_token" in msal_app(emu, cert).acquire_token_for_client(scope)
    wrong = msal_app(emu, "not-the-secret").acquire_token_for_client(scope)
    assert wrong["error"] == "invalid_client"
    assert msal_app(emu).acquire_token_for_client(["https://other/.default"])["error"] == \
        "invalid_scope"
    assert emu.requests.count("GET", f"/{emu.info['tenant_id']}/v2.0/.well-known") >= 1


def test_api_needs_a_current_token(emu: Emulator) -> None:
    assert requests.get(url(emu, "contacts")).status_code == 401
    http = session(emu)
    assert http.get(url(emu, "contacts")).status_code == 200
    emu.revoke_tokens()
    answer = http.get(url(emu, "contacts"))
    assert answer.status_code == 401 and "authorization_uri=" in answer.headers["WWW-Authenticate"]


def test_short_token_lifetime_makes_msal_fetch_again(emu: Emulator) -> None:
    emu.faults.token_lifetime = 60  # under msal's 5-minute reuse margin
    app, scope = msal_app(emu), [emu.info["dataverse_url"] + "/.default"]
    first = app.acquire_token_for_client(scope)
    second = app.acquire_token_for_client(scope)
    assert first["expires_in"] == 60
    assert second["token_source"] == "identity_provider"
    assert first["access_token"] != second["access_token"]


def test_paging_returns_every_row_once(emu: Emulator) -> None:
    rows, last = pull(session(emu), url(emu, "contacts?$select=emailaddress1,statecode"),
                      "odata.maxpagesize=5")
    ids = [r["contactid"] for r in rows]
    assert sorted(ids) == ids and len(set(ids)) == len(CONTACTS) == len(ids)
    assert rows[0] == {"@odata.etag": 'W/"101"', "emailaddress1": "user1@example.com",
                       "statecode": 1, "contactid": guid(1)}
    assert "$metadata#contacts(emailaddress1,statecode)" in last["@odata.context"]


def test_page_headers_count_and_formatted_values(emu: Emulator) -> None:
    answer = session(emu).get(url(emu, "contacts"), params={
        "$select": "statecode,modifiedon", "$filter": "statecode eq 1", "$count": "true"},
        headers={"Prefer": 'odata.maxpagesize=3,odata.include-annotations="*"'})
    body = answer.json()
    assert answer.headers["Preference-Applied"].startswith("odata.maxpagesize=3")
    assert body["@odata.count"] == 12 and len(body["value"]) == 3
    first = body["value"][0]
    assert first["statecode@OData.Community.Display.V1.FormattedValue"] == "Inactive"
    assert first["modifiedon@OData.Community.Display.V1.FormattedValue"] == "3/2/2024 10:00 AM"
    assert body["@odata.nextLink"].startswith(emu.info["dataverse_url"] + API + "contacts?")


def test_filter_escaping_and_errors_over_http(emu: Emulator) -> None:
    http = session(emu)
    found = http.get(url(emu, "contacts"), params={"$filter": "lastname eq 'O''Bryan'"})
    assert [r["contactid"] for r in found.json()["value"]] == [guid(3)]
    hostile = "x' or 1 eq 1 or emailaddress1 eq 'y".replace("'", "''")
    none = http.get(url(emu, "contacts"), params={"$filter": f"emailaddress1 eq '{hostile}'"})
    assert none.status_code == 200 and none.json()["value"] == []
    broken = http.get(url(emu, "contacts"), params={"$filter": "lastname eq 'O'Bryan'"})
    assert broken.status_code == 400
    assert "unterminated literal" in broken.json()["error"]["message"]
    ordered = http.get(url(emu, "contacts"), params={"$orderby": "modifiedon desc", "$top": "2",
                                                     "$select": "modifiedon"}).json()["value"]
    assert [r["modifiedon"] for r in ordered] == ["2024-03-24T10:00:00Z", "2024-03-23T10:00:00Z"]


def test_change_tracking_reports_updates_and_deletions(emu: Emulator) -> None:
    http = session(emu)
    rejected = http.get(url(emu, "contacts?$filter=statecode eq 0"),
                        headers={"Prefer": "odata.track-changes"})
    assert rejected.status_code == 400
    _, last = pull(http, url(emu, "contacts?$select=firstname"),
                   "odata.maxpagesize=10,odata.track-changes")
    delta = last["@odata.deltaLink"]
    emu.contacts.update(guid(5), {"firstname": "Changed"})
    emu.contacts.delete(guid(6))
    body = http.get(delta).json()
    assert body["@odata.context"].endswith("$metadata#contacts(firstname)/$delta")
    changed = [r for r in body["value"] if "contactid" in r]
    assert [(r["contactid"], r["firstname"]) for r in changed] == [(guid(5), "Changed")]
    assert {"id": guid(6), "reason": "deleted"}.items() <= \
        [r for r in body["value"] if "reason" in r][0].items()
    assert http.get(body["@odata.deltaLink"]).json()["value"] == []
    emu.expire_delta_tokens()
    expired = http.get(body["@odata.deltaLink"])
    assert expired.status_code == 400 and expired.json()["error"]["code"].startswith("0x")


def test_patch_if_match_post_and_get(emu: Emulator) -> None:
    http = session(emu)
    entity = url(emu, f"contacts({guid(2)})")
    etag = http.get(entity).json()["@odata.etag"]
    assert http.patch(entity, json={"firstname": "New"}, headers={"If-Match": etag}) \
        .status_code == 204
    stale = http.patch(entity, json={"firstname": "Old"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "0x80060882"
    assert emu.contacts.get(guid(2))["firstname"] == "New"
    assert emu.contacts.get(guid(2))["versionnumber"] > 123
    missing = http.patch(url(emu, f"contacts({guid(999)})"), json={"firstname": "X"},
                         headers={"If-Match": "*"})
    assert missing.status_code == 404 and emu.contacts.get(guid(999)) is None
    created = http.post(url(emu, "contacts"), json={"emailaddress1": "new@example.com",
                                                    "lastname": "New"})
    assert created.status_code == 204
    new_id = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    assert emu.contacts.get(new_id)["emailaddress1"] == "new@example.com"
    shown = http.post(url(emu, "contacts"), json={"lastname": "Rep"},
                      headers={"Prefer": "return=representation"})
    assert shown.status_code == 201 and shown.json()["fullname"] == "Rep"
    too_long = http.post(url(emu, "contacts"), json={"firstname": "x" * 51})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"


BATCH_PART = ("--{b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
              "{cid}\r\n{method} {path} HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n"
              "{headers}\r\n{body}\r\n")


def batch_body(parts: list[tuple[str, str, str, str]], boundary: str, ids: bool = False) -> str:
    text = ""
    for n, (method, path, body, headers) in enumerate(parts, start=1):
        text += BATCH_PART.format(b=boundary, cid=f"Content-ID: {n}\r\n" if ids else "",
                                  method=method, path=API + path, headers=headers, body=body)
    return text + f"--{boundary}--\r\n"


def post_batch(emu: Emulator, http: requests.Session, body: str, prefer: str = ""
               ) -> requests.Response:
    headers = {"Content-Type": 'multipart/mixed; boundary="batch_1"'}
    if prefer:
        headers["Prefer"] = prefer
    return http.post(url(emu, "$batch"), data=body.encode(), headers=headers)


def test_batch_success_and_stop_at_first_failure(emu: Emulator) -> None:
    http = session(emu)
    good = ("PATCH", f"contacts({guid(1)})", '{"firstname":"B1"}', "If-Match: *\r\n")
    bad = ("PATCH", f"contacts({guid(999)})", '{"firstname":"B2"}', "If-Match: *\r\n")
    later = ("PATCH", f"contacts({guid(4)})", '{"firstname":"B3"}', "If-Match: *\r\n")
    ok = post_batch(emu, http, batch_body([good], "batch_1"))
    assert ok.status_code == 200 and "HTTP/1.1 204 No Content" in ok.text
    assert ok.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    stopped = post_batch(emu, http, batch_body([bad, later], "batch_1"))
    assert stopped.status_code == 400 and "HTTP/1.1 404 Not Found" in stopped.text
    assert emu.contacts.get(guid(4))["firstname"] == "First4"  # never reached
    going = post_batch(emu, http, batch_body([bad, later], "batch_1"), "odata.continue-on-error")
    assert going.status_code == 200 and going.text.count("HTTP/1.1 ") == 2
    assert emu.contacts.get(guid(4))["firstname"] == "B3"


def test_failed_changeset_rolls_back_and_reports_only_the_failing_part(emu: Emulator) -> None:
    http = session(emu)
    inner = batch_body([
        ("PATCH", f"contacts({guid(7)})", '{"firstname":"C1"}', "If-Match: *\r\n"),
        ("POST", "contacts", '{"lastname":"Created in changeset"}', ""),
        ("PATCH", f"contacts({guid(8)})", '{"firstname":"' + "x" * 60 + '"}', ""),
    ], "changeset_1", ids=True)
    body = ("--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_1\r\n\r\n" + inner
            + "--batch_1--\r\n").replace("\r\n", "\n")  # bare LF is accepted too
    answer = post_batch(emu, http, body, "odata.continue-on-error")
    assert "changesetresponse_" in answer.text and "Content-ID: 3" in answer.text
    assert answer.text.count("HTTP/1.1 ") == 1 and "0x80044331" in answer.text
    assert emu.contacts.get(guid(7))["firstname"] == "First7"
    assert not [r for r in emu.contacts.all() if r["lastname"] == "Created in changeset"]


def test_faults_throttle_and_server_errors_are_visible(emu: Emulator) -> None:
    http = session(emu)
    emu.faults.throttle_every, emu.faults.retry_after = 3, 2
    statuses = [http.get(url(emu, "contacts?$top=1")) for _ in range(6)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert len(throttled) == 2 and throttled[0].headers["Retry-After"] == "2"
    assert throttled[0].json()["error"]["code"] == "0x80072322"
    emu.faults.throttle_every, emu.faults.error_rate = 0, 1.0
    failing = http.get(url(emu, "contacts?$top=1"))
    assert failing.status_code in (500, 503) and "error" in failing.json()
    emu.faults.error_rate = 0.0
    assert http.get(url(emu, "contacts?$top=1")).status_code == 200
    assert emu.requests.count(path=API, status=429) == 2


def test_seed_files_are_read_and_typed(tmp_path: Any) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("contactid,emailaddress1,statecode,versionnumber,modifiedon\n"
                        f"{guid(1)},a@x.com,1,77,2024-03-01T10:00:00Z\n")
    ndjson = tmp_path / "accounts.ndjson"
    ndjson.write_text('{"id": "s1", "store": "shop", "enabled": true}\n')
    with Emulator(dynamics=csv_file, strivacity=ndjson) as emulator:
        row = emulator.contacts.get(guid(1))
        assert (row["statecode"], row["versionnumber"]) == (1, 77)
        assert emulator.env()["STRIVACITY_STORE"] == "shop"
        assert emulator.accounts.get("s1")["enabled"] is True


def test_faults_spec_and_in_process_faults_agree() -> None:
    spec = parse_faults("throttle_every=50,retry_after=1.5,error_rate=0.02,latency=0.2,"
                        "token_lifetime=60")
    assert (spec.throttle_every, spec.retry_after, spec.error_rate, spec.latency,
            spec.token_lifetime) == (50, 1.5, 0.02, 0.2, 60)
    with Emulator(dynamics=[], strivacity=[], faults=Faults(throttle_every=1, retry_after=1.5)
                  ) as emulator:
        answer = requests.get(url(emulator, "contacts"), verify=emulator.info["ca_bundle"])
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"


def test_concurrent_pulls_each_get_every_row(emu: Emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = session(emu).headers["Authorization"]

    def one_pull(_: int) -> list[str]:
        http = requests.Session()
        http.headers["Authorization"] = token
        rows, _last = pull(http, url(emu, "contacts?$select=contactid"), "odata.maxpagesize=4")
        return [r["contactid"] for r in rows]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one_pull, range(4)))
    assert all(ids == sorted(guid(n) for n in range(1, 24)) for ids in results)
