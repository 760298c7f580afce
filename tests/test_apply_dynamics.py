"""The $batch builder and parser, without a server."""

from __future__ import annotations

from recon.apply.dynamics import DataverseTarget, assign, build_batch, parse_batch
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


class _Answer:
    def __init__(self, text: str) -> None:
        self.status_code, self.text, self.reason, self.url = 200, text, "OK", "https://o/$batch"
        self.headers = {"Content-Type": "multipart/mixed; boundary=r"}


class _Session:
    def __init__(self, *texts: str) -> None:
        self.texts, self.bodies = list(texts), []  # type: ignore[var-annotated]

    def request(self, method: str, url: str, **kwargs: object) -> _Answer:
        self.bodies.append(kwargs["data"])
        return _Answer(self.texts.pop(0))


class _Tokens:
    def token(self) -> str:
        return "t"

    def invalidate(self) -> None:
        pass


THROTTLED = ('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 4\r\nContent-Type: '
             'application/json\r\n\r\n{"error":{"code":"0x80072322","message":"Slow down."}}')


def _changesets(*parts: str) -> str:
    return "".join(f"--r\r\nContent-Type: multipart/mixed; boundary=c{n}\r\n\r\n--c{n}\r\n"
                   f"{_http(part, str(n))}\r\n--c{n}--\r\n"
                   for n, part in enumerate(parts, start=1)) + "--r--\r\n"


def test_throttled_parts_go_again_in_the_clients_one_loop_and_only_they() -> None:
    from recon.dynamics.client import service_client
    from recon.retry import RetryPolicy
    waits: list[float] = []
    session = _Session(_changesets(OK, THROTTLED, OK), _changesets(OK))
    client = service_client(session, _Tokens(), RetryPolicy(sleep=waits.append))  # type: ignore[arg-type]
    outcomes = DataverseTarget(client, "https://o").send(OPS)
    assert [o.state for o in outcomes] == ["done", "done", "done"]
    assert waits == [4.0], "the throttled part's Retry-After, slept once by the client"
    first, second = (bytes(b).decode() for b in session.bodies)
    assert first.count("PATCH ") == 3 and second.count("PATCH ") == 1
    assert "contacts(id2)" in second and "contacts(id1)" not in second


def test_a_part_still_throttled_when_the_policy_gives_up_is_failed_with_its_error() -> None:
    from recon.dynamics.client import service_client
    from recon.retry import RetryPolicy
    session = _Session(*[_changesets(THROTTLED)] * 3)
    policy = RetryPolicy(max_attempts=3, sleep=lambda _s: None)
    client = service_client(session, _Tokens(), policy)  # type: ignore[arg-type]
    [outcome] = DataverseTarget(client, "https://o").send(OPS[:1])
    assert (outcome.state, outcome.status) == ("failed", 429) and len(session.bodies) == 3
    assert outcome.error == "Slow down. (0x80072322)"
