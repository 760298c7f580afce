"""Independent column conversions run side by side: pyarrow's compute kernels release the GIL.

A million-row loader spends most of its time in such kernels, one column after another, while
the second core idles; a few threads turn that into wall time saved.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pandas as pd

T = TypeVar("T")
#: Threads per call: the machine's cores, at most four (more only adds contention).
THREADS = max(1, min(4, os.cpu_count() or 1))
ColumnTask = Callable[[], "pd.Series | pd.DataFrame"]


def threads() -> ThreadPoolExecutor:
    """A pool for tasks of different result types; use it as a context manager and take the
    results in a fixed order, so the first failure raised is the same on every run."""
    return ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="recon-task")


def run_all(tasks: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """Each task's result by name. All tasks run; the first failure, in ``tasks`` order, is
    raised, so errors are the same as running them one after another."""
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="recon-column") as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


def run_columns(tasks: Mapping[str, ColumnTask]) -> dict[str, pd.Series]:
    """``run_all`` for tasks that make one column (named by the task) or a frame of several."""
    columns: dict[str, pd.Series] = {}
    for name, result in run_all(tasks).items():
        if isinstance(result, pd.DataFrame):
            columns.update((str(column), values) for column, values in result.items())
        else:
            columns[name] = result
    return columns
