"""Reading a phase's CPU figures (``Monitor.end``'s ``resources``) for the note each bench
ends its report with: what limited the rates it measured."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SATURATED = 0.9  # of the machine's cores busy: the processes queue for CPU
ONE_CORE = 0.85  # of a core: a single-threaded process is at its ceiling
NOISY = 0.25  # of the machine's cores used outside the bench: the figures are noise


@dataclass(frozen=True)
class CpuUse:
    cores: dict[str, float]  # per role, over the phase
    busy: float  # the whole machine's busy cores
    other: float  # busy cores not used by the bench's processes
    cpus: int

    @classmethod
    def of(cls, resources: dict[str, Any]) -> CpuUse:
        return cls(
            dict(resources["cpu_cores"]),
            float(resources["cpu_cores_busy_total"]),
            float(resources["cpu_cores_other_processes"]),
            os.cpu_count() or 1,
        )

    def busy_text(self) -> str:
        return f"{self.busy:.2f} of {self.cpus} cores busy"

    def listing(self, *, by_name: bool = False) -> str:
        """``role cores`` per role, the busiest first (or by name)."""
        roles = sorted(self.cores.items(), key=(lambda i: i[0]) if by_name else (lambda i: -i[1]))
        return ", ".join(f"{name} {value:.2f}" for name, value in roles)

    @property
    def busiest(self) -> str:
        return max(self.cores, key=lambda name: self.cores[name]) if self.cores else "?"

    @property
    def saturated(self) -> bool:
        return self.busy >= SATURATED * self.cpus

    @property
    def noisy(self) -> bool:
        return self.other >= NOISY * self.cpus

    def at_one_core(self, roles: Iterable[str]) -> list[str]:
        """Those of ``roles`` (single-threaded ones) that used about one whole core."""
        return [name for name in roles if self.cores.get(name, 0.0) >= ONE_CORE]


def shared_cores_note(processes: str, unit: str, detail: str = "") -> str:
    """The caveat that closes every limits note: Elasticsearch runs on the cores the measured
    ``processes`` use, so the figures compare CPU per ``unit`` when the machine is saturated."""
    return (
        f"Elasticsearch, {processes} share the machine's cores{detail}; on a saturated machine "
        f"the ratios compare CPU per {unit}, a floor for a deployment with Elasticsearch "
        "elsewhere."
    )
