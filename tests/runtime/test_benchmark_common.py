"""loadtests/common.py: the one free-port helper and the one percentile definition that
every benchmark uses."""

from __future__ import annotations

import importlib.util
import math
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("loadtests_common", ROOT / "loadtests" / "common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentiles_are_nearest_rank_observed_values(common):
    values = [float(n) for n in range(100, 0, -1)]  # any order
    assert common.percentiles(values) == {"n": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0,
                                          "max": 100.0}
    assert common.percentile([3.0, 1.0, 2.0], 50) == 2.0  # a value that was measured
    assert common.percentile([10.0, 20.0], 95) == 20.0
    assert common.percentile([7.5], 99) == 7.5


def test_no_samples_give_no_figures(common):
    assert common.percentiles([]) == {"n": 0}
    assert math.isnan(common.percentile([], 95))


def test_free_port_can_be_listened_on(common):
    port = common.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_every_benchmark_uses_the_shared_helpers():
    """No benchmark keeps a percentile or free-port function of its own."""
    for script in sorted((ROOT / "loadtests").glob("*.py")):
        if script.name == "common.py":
            continue
        source = script.read_text()
        assert "def free_port" not in source and "def percentile" not in source, script.name
        assert "statistics.quantiles" not in source, script.name
