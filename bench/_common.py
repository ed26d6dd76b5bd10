"""Shared helpers for the benchmark scripts: timing medians and the machine line."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib import metadata


def median_seconds(fn: Callable[[], object], *, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_seconds(
    fn_a: Callable[[], object], fn_b: Callable[[], object], *, repeats: int, warmup: int = 2
) -> tuple[float, float, float]:
    """Median wall times of ``fn_a()`` and ``fn_b()`` run alternately, and the median of the
    per-pair ratios b/a: on a shared machine whose load drifts, a ratio of neighbours in
    time is steadier than the ratio of two medians taken one after the other."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    ratio = statistics.median(b / a for a, b in zip(times_a, times_b, strict=True))
    return statistics.median(times_a), statistics.median(times_b), ratio


def fwd_bwd(fn: Callable, sos, x) -> Callable[[], tuple]:
    """A run of ``fn(sos, x)`` forward and backward (gradients of x and sos), for timing
    filter implementations side by side (torch is imported here only when called).

    The output gradient (ones) is made once and reused by every run: allocating a fresh
    123 MB tensor per run costs ~20 ms of page faults here, a cost of the harness rather
    than of the filter under test.
    """
    import torch

    seed: dict[tuple, torch.Tensor] = {}

    def run() -> tuple:
        xs = x.detach().requires_grad_()
        ss = sos.detach().requires_grad_()
        y = fn(ss, xs)
        key = (tuple(y.shape), y.dtype)
        if key not in seed:
            seed[key] = torch.ones_like(y)
        y.backward(seed[key])
        return xs.grad, ss.grad

    return run


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(packages: tuple[str, ...]) -> str:
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return (
        f"machine: {os.cpu_count()} cores, {cpu_name()}; Python {platform.python_version()}; "
        + ", ".join(versions)
    )
