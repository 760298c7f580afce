"""The reconciliation as a queue of named steps, each one SELECT with an output name.

Modelled on splink's ``CTEPipeline.enqueue_sql(sql, output_table_name)``: a step reads the
inputs and earlier steps by name. A step is a view (the engine inlines it where it is read, as a
CTE would be) unless it is *materialised*: computed once into a table, for steps that later
steps read several times. The plan never asks which engine runs it (``recon.engine.sql.dialect``
holds what differs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


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
