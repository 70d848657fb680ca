"""What the machine was and what else ran on it during a benchmark run:
CPU model and features, cores, caches, the load average, and the share of
the CPUs that other processes (and the hypervisor, as steal time) took."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from dataclasses import dataclass


def cpu() -> dict[str, object]:
    """CPU model, family/model/stepping, SIMD features numpy and BLAS use, caches."""
    info: dict[str, object] = {"machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        text = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    for key in ("model name", "cpu family", "model", "stepping", "cpu MHz"):
        if key in fields:
            info[key] = fields[key]
    flags = set(fields.get("flags", "").split())
    info["simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq")
                    if f in flags]
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        lscpu = ""
    for line in lscpu.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor"):
            info[key.strip()] = value.strip()
    return info


def _stat() -> tuple[float, float, float] | None:
    """(busy, steal, total) jiffies over all CPUs since boot."""
    try:
        first = open("/proc/stat", encoding="utf-8").readline().split()
    except OSError:
        return None
    values = [float(v) for v in first[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0.0] * 8)[:8]
    return user + nice + system + irq + softirq, steal, sum(values[:8])


@dataclass
class Load:
    """Started before a run, `report()` after it."""

    start_wall: float = 0.0
    start_stat: tuple[float, float, float] | None = None
    start_children: float = 0.0
    start_self: float = 0.0
    start_loadavg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def begin(cls) -> Load:
        return cls(time.monotonic(), _stat(), _cpu_seconds(resource.RUSAGE_CHILDREN),
                   _cpu_seconds(resource.RUSAGE_SELF), os.getloadavg())

    def report(self) -> dict[str, object]:
        """Load average at start and end; over the run: the CPUs' busy share
        (all processes), the part the benchmark's own processes account for,
        the rest (other processes) and steal time (the hypervisor)."""
        out: dict[str, object] = {"loadavg_start": self.start_loadavg,
                                  "loadavg_end": os.getloadavg()}
        end = _stat()
        if self.start_stat is None or end is None:
            return out
        busy, steal, total = (e - s for e, s in zip(end, self.start_stat))
        if total <= 0:
            return out
        ticks = os.sysconf("SC_CLK_TCK")
        ours = (_cpu_seconds(resource.RUSAGE_CHILDREN) - self.start_children
                + _cpu_seconds(resource.RUSAGE_SELF) - self.start_self) * ticks
        out.update({"busy_share": busy / total, "ours_share": min(ours, busy) / total,
                    "others_share": max(0.0, busy - ours) / total,
                    "steal_share": steal / total,
                    "seconds": time.monotonic() - self.start_wall})
        return out


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
