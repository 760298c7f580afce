"""The reconciliation as a queue of named steps, each one SELECT with an output name.

Modelled on splink's ``CTEPipeline.enqueue_sql(sql, output_table_name)``: a step reads the
inputs and earlier steps by name. A step is a view (the engine inlines it where it is read, as a
CTE would be) unless it is *materialised*: computed once into a table, for steps that later
steps read several times. The plan never asks which engine runs it (``recon.engine.sql.dialect``
holds what differs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class Step:
    """One named query of the plan."""

    name: str
    sql: str
    materialise: bool = False


@dataclass
class Pipeline:
    """Steps in the order they run; names are unique."""

    steps: list[Step] = field(default_factory=list)

    def enqueue_sql(self, sql: str, output_table_name: str, *, materialise: bool = False
                    ) -> None:
        """Add a step whose result later steps read as ``output_table_name``."""
        if any(step.name == output_table_name for step in self.steps):
            raise ValueError(f"the plan already has a step called {output_table_name!r}")
        self.steps.append(Step(output_table_name, sql.strip(), materialise))

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def names(self) -> list[str]:
        return [step.name for step in self.steps]


class Engine(Protocol):
    """What runs a plan (``DuckDB``, ``Spark``): inputs by name, the steps, results as Arrow."""

    def register(self, name: str, table: pa.Table) -> None: ...

    def load(self, name: str, table: pa.Table) -> None: ...

    def run(self, pipeline: Pipeline) -> None: ...

    def map_arrow(self, name: str, sql: str, function: Callable[[pa.Table], pa.Table],
                  schema: pa.Schema) -> None: ...

    def arrow(self, sql: str) -> pa.Table: ...
