"""Every benchmark at a tiny size, so none of them can rot. Figures are checked for being
produced and sane, never for speed: timings are not assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT

TINY = ["--fanout", "5x50", "--seconds", "1", "--idle-subs", "20", "--idle-seconds", "1.2",
        "--ingest-rates", "20", "--ingest-seconds", "1", "--ingest-warmup", "0.5"]


def test_every_benchmark_produces_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", *TINY, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())

    (scenario,) = results["fanout"]
    assert set(scenario["runs"]) == {"ours", "sse-starlette", "fastapi-sse"}
    for name, run in scenario["runs"].items():
        assert run["connected"] == 5 and run["failed"] == 0, name
        assert run["deliveries_per_s"] > 0 and run["slowest_per_s"] > 0, name
        assert 0 < run["latency_p50_ms"] <= run["latency_p99_ms"] <= run["latency_max_ms"], name
        assert run["server_cpu"] is not None and run["client_cpu"] > 0, name

    for name, run in results["idle"]["runs"].items():
        assert run["connected"] == 20, name
        assert run["silent_subs"] == 0, f"{name}: a subscriber heard no heartbeat"
        assert run["server_rss_end"] > 0 and run["bytes_per_subscriber"] is not None, name

    (step,) = results["ingest"]["steps"]
    assert step["rate"] == 20 and step["received_per_s"] > 0
    assert step["behind_p99_ms"] is not None and step["loop_lag_p99_ms"] >= 0
    assert step["rss_end"] > 0

    assert [row["met"] for row in results["targets"]]  # the target table is filled in
    assert "| ours |" in done.stdout and "Targets" in done.stdout
