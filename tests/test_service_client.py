"""The one service client: one retry loop, the policy decides, pacing and settling, no server."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from recon.errors import HttpError
from recon.http import Service, ServiceClient
from recon.ratelimit import Budget, Pacer
from recon.retry import RetryPolicy
from recon.strivacity.client import STRIVACITY

LOST = object()  # an answer that never came


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None
                 ) -> None:
        self.status_code, self._body = status, body
        self.headers = headers or {}
        self.reason, self.url = "Reason", "https://svc.example/x"

    @property
    def content(self) -> bytes:
        return b"" if self._body is None else json.dumps(self._body).encode()

    def json(self) -> Any:
        return json.loads(self.content)


class Session:
    def __init__(self, *answers: Any) -> None:
        self.answers, self.sent = list(answers), []  # type: ignore[var-annotated]

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if answer is LOST:
            raise requests.ConnectionError("connection reset")
        return answer


class Tokens:
    def __init__(self) -> None:
        self.issued = self.dropped = 0

    def token(self) -> str:
        self.issued += 1
        return f"t{self.issued}"

    def invalidate(self) -> None:
        self.dropped += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(*answers: Any, pacer: Pacer | None = None, service: Service = STRIVACITY
           ) -> tuple[ServiceClient, Session, Clock]:
    clock, session = Clock(), Session(*answers)
    policy = RetryPolicy(backoff_base=0.0, sleep=clock.sleep)
    return (ServiceClient(session, Tokens(), service, policy,  # type: ignore[arg-type]
                          pacer=pacer, clock=clock), session, clock)


def test_a_failed_post_is_not_repeated_without_a_settle() -> None:
    http, session, _ = client(Answer(503))
    assert http.send("POST", "https://svc.example/accounts").status_code == 503
    assert len(session.sent) == 1


@pytest.mark.parametrize("first", [Answer(503), Answer(500), Answer(504), LOST])
def test_a_post_is_repeated_only_when_settle_finds_it_was_not_accepted(first: Any) -> None:
    checks: list[str] = []

    def absent() -> bool:
        checks.append("read")
        return True

    http, session, _ = client(first, Answer(201, {"id": "a1"}))
    response = http.send("POST", "https://svc.example/accounts", settle=absent)
    assert response.status_code == 201 and len(session.sent) == 2 and checks == ["read"]


def test_a_post_settle_finds_accepted_stops_without_resending() -> None:
    http, session, _ = client(Answer(500), Answer(201))
    assert http.send("POST", "https://svc.example/bulk", settle=lambda: False).status_code == 500
    assert len(session.sent) == 1
    http, session, _ = client(LOST, Answer(201))
    with pytest.raises(HttpError, match="No answer from Strivacity for POST"):
        http.send("POST", "https://svc.example/bulk", settle=lambda: False)
    assert len(session.sent) == 1


def test_a_throttled_post_is_repeated_without_settling() -> None:
    http, session, clock = client(Answer(429, {}, {"X-Ratelimit-Remaining": "0, 12",
                                                   "X-Ratelimit-Reset": "1, 60"}),
                                  Answer(201))
    called: list[bool] = []

    def settle() -> bool:
        called.append(True)
        return True

    response = http.send("POST", "https://svc.example/bulk", settle=settle)
    assert response.status_code == 201 and len(session.sent) == 2 and not called
    assert clock.slept == [1.0], "no Retry-After: the empty bucket's reset is the wait"


def test_an_empty_bucket_on_a_success_holds_the_next_request() -> None:
    full = {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "7"}
    http, session, clock = client(Answer(200, [], full), Answer(200, []))
    http.send("GET", "https://svc.example/a")
    http.send("GET", "https://svc.example/b")
    assert clock.slept == [7.0] and len(session.sent) == 2


def test_budgets_pace_requests_through_the_one_sleep() -> None:
    http, _, clock = client(*(Answer(200, []) for _ in range(5)),
                            pacer=Pacer((Budget(2, 1.0), Budget(3, 60.0))))
    for _ in range(5):
        http.send("GET", "https://svc.example/a")
    assert clock.slept == [1.0, 59.0]  # sent at 0, 0, 1, 60, 60


def test_401_renews_the_token_once() -> None:
    http, session, _ = client(Answer(401), Answer(401), Answer(200))
    assert http.send("GET", "https://svc.example/a").status_code == 401
    assert [s[2]["headers"]["Authorization"] for s in session.sent] == ["Bearer t1", "Bearer t2"]


def test_a_lost_get_is_retried_then_reported() -> None:
    http, session, _ = client(LOST, LOST, LOST)
    http.retry = RetryPolicy(max_attempts=3, backoff_base=0.0, sleep=lambda _s: None)
    with pytest.raises(HttpError, match="after 3 tries. Check STRIVACITY_URL"):
        http.send("GET", "https://svc.example/a?x=1")
    assert len(session.sent) == 3


def test_again_judges_answers_and_the_body_is_rebuilt_per_try() -> None:
    pending = ["a", "b"]
    http, session, _ = client(Answer(200, {"left": ["b"]}), Answer(200, {"left": []}))

    def again(response: Any) -> tuple[int, str | None] | None:
        pending[:] = response.json()["left"]
        return (503, None) if pending else None

    http.send("POST", "https://svc.example/batch", idempotent=True, again=again,
              data=lambda: ",".join(pending).encode())
    assert [s[2]["data"] for s in session.sent] == [b"a,b", b"b"]


def test_each_service_reads_its_own_error_shape() -> None:
    from recon.dynamics.client import DATAVERSE
    dataverse = Answer(412, {"error": {"code": "0x80060882", "message": "Version mismatch"}})
    strivacity = Answer(409, {"title": "Conflict", "detail": "Identifier exists",
                              "errorKey": "identifierAlreadyExists"})
    assert DATAVERSE.error_text(dataverse) == ("0x80060882", "Version mismatch")  # type: ignore[arg-type]
    assert STRIVACITY.error_text(strivacity) == ("identifierAlreadyExists",  # type: ignore[arg-type]
                                                 "Identifier exists")
    assert DATAVERSE.error_text(strivacity) == (None, "Reason")  # type: ignore[arg-type]
    assert STRIVACITY.error_text(Answer(502)) == (None, "Reason")  # type: ignore[arg-type]
