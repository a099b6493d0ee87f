"""Issue 24, parts 1 and 5 with the real thing: Debian's Prometheus, with
deploy/prometheus/prometheus.yml pointed at two app hosts and their METRICS_TOKEN, scrapes
both and loads the alert rules; nothing fires while all is well."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.support import METRICS_TOKEN, PORT_BASE, say, wait_until
from tests.helpers import pg_only

pytestmark = [pg_only, pytest.mark.deploy]
ROOT = Path(__file__).resolve().parents[2]


def _api(base: str, path: str, **query) -> dict:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


def _values(answer: dict) -> dict[str, float]:
    return {item["metric"].get("instance", ""): float(item["value"][1])
            for item in answer.get("data", {}).get("result", [])}


@pytest.mark.skipif(not shutil.which("prometheus"),
                    reason="prometheus is not installed (Debian package prometheus; .ci/run installs it)")
def test_prometheus_scrapes_each_host_with_the_token_and_loads_the_rules(cluster, tmp_path):
    hosts = [cluster.host("a"), cluster.host("b")]
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "token").write_text(METRICS_TOKEN)
    config = (ROOT / "deploy/prometheus/prometheus.yml").read_text()
    config = config.replace("scrape_interval: 15s", "scrape_interval: 1s")
    config = config.replace("evaluation_interval: 1m", "evaluation_interval: 1s")
    config = config.replace("/etc/prometheus/tracetrack-metrics-token", str(tmp_path / "token"))
    targets = ", ".join(f'"127.0.0.1:{host.port}"' for host in hosts)
    config = config.replace('["10.0.0.11:5000", "10.0.0.12:5000"]', f"[{targets}]")
    (tmp_path / "prometheus.yml").write_text(config)
    port = PORT_BASE + 20
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "prometheus.log", "w") as log:
        server = subprocess.Popen(
            ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        expected = {f"127.0.0.1:{host.port}" for host in hosts}
        up = wait_until(lambda: (lambda values: values if set(values) == expected and all(
            values.values()) else None)(_values(_api(base, "query", query='up{job="tracetrack"}'))),
            60, "Prometheus to scrape both hosts")
        ready = wait_until(lambda: (lambda values: values if set(values) == expected else None)(
            _values(_api(base, "query", query="tracetrack_database_up"))), 30, "the gauges")
        rules = [rule["name"] for group in _api(base, "rules")["data"]["groups"]
                 for rule in group["rules"]]
        alerts = _api(base, "alerts")["data"]["alerts"]   # firing or pending
    finally:
        server.terminate()
        server.wait(timeout=20)
    say(f"prometheus: up {up}, database_up {ready}, {len(rules)} alert rules loaded, "
        f"{len(alerts)} pending or firing")
    assert set(ready.values()) == {1.0}
    assert len(rules) == 8 and "TraceTrackRedisDown" in rules
    assert alerts == []
