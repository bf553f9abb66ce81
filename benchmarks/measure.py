"""Shared by the benchmarks: time a function, then its peak memory in a second run."""

from __future__ import annotations

import time
import tracemalloc


def measured(function):
    """(result, seconds, peak bytes): timed on its own, then run again under tracemalloc for the
    peak of NumPy/Python allocations (tracing slows allocation-heavy code, so not while timed)."""
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak
