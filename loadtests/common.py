"""What every benchmark in loadtests/ shares: a free port for the server it starts, and
latency percentiles computed one way.

The percentile is the nearest rank: the smallest observed value with at least p% of the
samples at or below it. Every figure is a latency that really happened (no interpolation
between two requests). bench_lookup.py and dashboard_benchmark.py time their own requests;
run_benchmark.py takes locust's every response time (locustfile.py writes them) and wrk's
latency distribution, and computes the same figures from them here, so the figures of
every benchmark compare. The benchmarks import this as `common` (Python puts the script's
folder, loadtests/, first on sys.path)."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterable

CUTS = (50, 95, 99)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Iterable[float], pct: float) -> float:
    """The nearest-rank `pct` percentile of `values`; nan when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def percentiles(values: Iterable[float], digits: int = 1) -> dict:
    """{"n", "p50", "p95", "p99", "max"} of `values`, rounded to `digits`; {"n": 0} when
    there are none."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    figures = {f"p{cut}": percentile(ordered, cut) for cut in CUTS}
    figures["max"] = ordered[-1]
    return {"n": len(ordered), **{key: round(value, digits) for key, value in figures.items()}}
