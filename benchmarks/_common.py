"""Shared timing helpers for the benchmarks (median of repeats, machine description)."""

from __future__ import annotations

import os
import platform
import statistics
import time


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    devs = ", ".join(str(d) for d in jax.devices())
    return f"{cpu}; {os.cpu_count()} cores; jax {jax.__version__} on {devs}"
