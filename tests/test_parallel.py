"""recon.parallel: tasks run side by side, results keep their names, errors stay deterministic."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from recon import parallel
from recon.parallel import run_all, run_columns


def test_results_keep_task_order_and_names() -> None:
    tasks = {name: (lambda n=name: n * 2) for name in ("c", "a", "b")}
    assert list(run_all(tasks).items()) == [("c", "cc"), ("a", "aa"), ("b", "bb")]


def test_tasks_really_run_on_several_threads() -> None:
    if parallel.THREADS < 2:
        pytest.skip("a one-core machine runs the tasks on one thread")
    barrier = threading.Barrier(2, timeout=30)  # deadlocks (then times out) if run one by one

    def meet() -> int:
        return barrier.wait()

    assert sorted(run_all({"x": meet, "y": meet}).values()) == [0, 1]


def test_the_first_failure_in_task_order_is_raised_after_all_ran() -> None:
    ran: list[str] = []

    def fail(name: str) -> None:
        ran.append(name)
        raise ValueError(name)

    with pytest.raises(ValueError, match="^first$"):
        run_all({"ok": lambda: ran.append("ok"), "first": lambda: fail("first"),
                 "second": lambda: fail("second")})
    assert sorted(ran) == ["first", "ok", "second"]


def test_run_columns_spreads_frames_into_their_columns() -> None:
    frame = pd.DataFrame({"email": ["a@x.io"], "email_key": ["a@x.io"]})
    columns = run_columns({"emails": lambda: frame, "city": lambda: pd.Series(["Oslo"])})
    assert list(columns) == ["email", "email_key", "city"]
    assert columns["city"].tolist() == ["Oslo"] and columns["email"].tolist() == ["a@x.io"]
