"""``python -m bench [--quick] [--only NAME ...]``: run the scenarios, print the report.

Exit status: 0 when every scenario ran (whether or not its goals were met),
1 when one could not run, 130 on Ctrl-C. Child processes are stopped either way.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import signal
import sys
import time
from importlib.metadata import version
from typing import NoReturn

from bench.proc import BenchError
from bench.scenarios import SCENARIOS, Goal, RunConfig

# Importing a scenario module registers it; this order is the run order.
# A new scenario (events, activity, availability) adds its module here.
SCENARIO_MODULES = (
    "bench.unary",
    "bench.metrics",
    "bench.rss",
    "bench.events",
    "bench.activity",
    "bench.availability",
    "bench.rooms",
    "bench.mirror",
    "bench.gateway",
    "bench.google",
    "bench.graph",
    "bench.dav",
    "bench.scale",
)
for _module in SCENARIO_MODULES:
    importlib.import_module(_module)


def _levels(raw: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in raw.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,16,64, got {raw!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be >= 1")
    return levels


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scenarios:\n" + "\n".join(f"  {s.name:10} {s.summary}" for s in SCENARIOS.values()),
    )
    parser.add_argument("--quick", action="store_true", help="1 repetition, shorter windows")
    parser.add_argument(
        "--only", action="append", choices=list(SCENARIOS), metavar="NAME",
        help="run only this scenario (repeatable): " + ", ".join(SCENARIOS),
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", type=_levels, default=None, metavar="C,C,...",
        help="concurrency levels of the load scenarios (default 1,16,64)",
    )  # fmt: skip
    return parser.parse_args(argv)


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    # Unwind through the `with ProcessGroup` blocks so children are stopped.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    cfg = RunConfig.make(quick=args.quick, concurrency=args.concurrency)
    names = args.only or list(SCENARIOS)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"Almanac bench ({'quick' if cfg.quick else 'full'}): {', '.join(names)}\n"
        f"Python {platform.python_version()}, grpcio {version('grpcio')}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    started = time.monotonic()
    goals: list[Goal] = []
    try:
        for name in names:
            print(f"\n== {name}: {SCENARIOS[name].summary}\n", flush=True)
            goals += SCENARIOS[name].run(cfg)
            sys.stdout.flush()
    except BenchError as exc:
        print(f"\nbench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench: interrupted; child processes stopped", file=sys.stderr)
        return 130
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n== Summary ({time.monotonic() - started:.0f} s, load average now {load})\n")
    for goal in goals:
        print(f"  {goal.verdict}  {goal.text} ({goal.detail})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
