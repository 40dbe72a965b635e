"""The scenario registry: a scenario is a named function returning its goals.

A new scenario is a module with a function decorated by ``@scenario(...)``,
imported from `bench.__main__` (the import is what registers it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SCENARIOS", "Goal", "RunConfig", "Scenario", "scenario"]


@dataclass(frozen=True)
class RunConfig:
    """How long and how often to measure; ``--quick`` shrinks every window."""

    quick: bool = False
    warmup_s: float = 1.0
    window_s: float = 3.0
    repeat: int = 3
    concurrency: tuple[int, ...] = (1, 16, 64)

    @classmethod
    def make(cls, *, quick: bool, concurrency: tuple[int, ...] | None = None) -> RunConfig:
        levels = concurrency or cls.concurrency
        if quick:
            return cls(quick=True, warmup_s=0.5, window_s=1.5, repeat=1, concurrency=levels)
        return cls(concurrency=levels)


@dataclass(frozen=True)
class Goal:
    """A target the bench reports on; a miss is news, not a failure of the command."""

    text: str
    passed: bool
    detail: str = ""

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


ScenarioFn = Callable[[RunConfig], list[Goal]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: ScenarioFn


# Insertion order is the run order of a full ``python -m bench``.
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, summary: str) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register the decorated function as scenario ``name``."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        SCENARIOS[name] = Scenario(name, summary, fn)
        return fn

    return register
