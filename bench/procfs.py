"""Reading a process's memory and CPU time from ``/proc`` (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["busy_cpu_seconds", "cpu_seconds", "rss_bytes"]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size (``VmRSS``) of ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            assert unit == "kB", unit  # the kernel always reports kB (KiB)
            return int(value) * 1024
    raise ValueError(f"no VmRSS for pid {pid} (a zombie?)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # comm (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / _CLK_TCK


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent not idle, summed over all cores.

    Compared with what the server and the load generator used, it shows how
    much another tenant of a shared machine took during a window.
    """
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK
