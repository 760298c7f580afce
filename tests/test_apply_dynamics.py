"""The $batch builder and parser, without a server."""

from __future__ import annotations

from recon.apply.dynamics import assign, build_batch, parse_batch
from recon.apply.plan import Operation

OPS = [Operation("update_dynamics", n, f"id{n}", "PATCH", f"contacts(id{n})",
                 {"firstname": f"F{n}"}, etag=f'W/"{n}"') for n in (1, 2, 3)]
OK = "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n"
STALE = ('HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n'
         '{"error":{"code":"0x80060882","message":"The version does not match."}}')


def _http(body: str, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    return head + (f"Content-ID: {content_id}\r\n" if content_id else "") + "\r\n" + body


def test_request_has_one_changeset_per_operation_with_if_match() -> None:
    text = build_batch(OPS, "b1").decode()
    assert text.count("boundary=changeset_b1_") == 3
    assert "PATCH /api/data/v9.2/contacts(id2) HTTP/1.1" in text
    assert 'If-Match: W/"2"' in text and "Content-ID: 3" in text
    assert text.endswith("--batch_b1--\r\n")


def test_dataverse_shape_nested_failing_part_maps_by_content_id() -> None:
    body = (f"--r\r\nContent-Type: multipart/mixed; boundary=c1\r\n\r\n--c1\r\n{_http(OK, '1')}"
            f"\r\n--c1--\r\n--r\r\nContent-Type: multipart/mixed; boundary=c2\r\n\r\n"
            f"--c2\r\n{_http(STALE, '2')}\r\n--c2--\r\n"
            f"--r\r\nContent-Type: multipart/mixed; boundary=c3\r\n\r\n--c3\r\n"
            f"{_http(OK, '3')}\r\n--c3--\r\n--r--\r\n")
    answers = assign(OPS, parse_batch(body, "multipart/mixed; boundary=r"))
    assert {k: p.status for k, p in answers.items()} == \
        {"update_dynamics:1": 204, "update_dynamics:2": 412, "update_dynamics:3": 204}
    assert answers["update_dynamics:2"].body["error"]["code"] == "0x80060882"


def test_odata_shape_bare_failing_part_maps_by_position() -> None:
    body = (f"--r\nContent-Type: multipart/mixed; boundary=c1\n\n--c1\n{_http(OK, '1')}\n"
            f"--c1--\n--r\n{_http(STALE)}\n--r\n{_http(OK)}\n--r--\n").replace("\r\n", "\n")
    answers = assign(OPS, parse_batch(body, 'multipart/mixed; boundary="r"'))
    assert [answers[op.key].status for op in OPS] == [204, 412, 204]
