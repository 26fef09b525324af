"""Every benchmark at a tiny size, so none of them can rot. Figures are checked for being
produced and sane, never for speed: timings are not assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT

TINY_FANOUT = ["--fanout", "5x50", "--seconds", "1", "--capacity", "2"]
TINY = [*TINY_FANOUT, "--redis-procs", "", "--idle-subs", "20", "--idle-seconds", "1.2",
        "--ingest-rates", "20", "--ingest-seconds", "1", "--ingest-warmup", "0.5",
        "--soak-seconds", "11"]


def run_bench(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    """`python -m bench ARGS`: its JSON results and its printed tables."""
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", *args, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def assert_fanout_sane(name: str, run: dict[str, Any]) -> None:
    assert run["connected"] == 5 and run["failed"] == 0, name
    assert run["deliveries_per_s"] > 0 and run["slowest_per_s"] > 0, name
    assert 0 < run["latency_p50_ms"] <= run["latency_p99_ms"] <= run["latency_max_ms"], name
    assert run["server_cpu"] is not None and run["client_cpu"] > 0, name


def test_every_benchmark_produces_its_figures(tmp_path: Path) -> None:
    results, stdout = run_bench(tmp_path, *TINY)

    (scenario,) = results["fanout"]
    assert set(scenario["runs"]) == {"ours", "sse-starlette", "fastapi-sse"}
    for name, run in scenario["runs"].items():
        assert_fanout_sane(name, run)
    (step,) = scenario["capacity"]  # ours again at twice the rate
    assert step["rate"] == 100 and step["run"]["spec"]["rate"] == 100
    assert_fanout_sane("ours (capacity)", step["run"])
    assert "Capacity of ours" in stdout

    for name, run in results["idle"]["runs"].items():
        assert run["connected"] == 20, name
        assert run["silent_subs"] == 0, f"{name}: a subscriber heard no heartbeat"
        assert run["server_rss_end"] > 0 and run["bytes_per_subscriber"] is not None, name

    (step,) = results["ingest"]["steps"]  # --stream-process: the app and its stream process
    assert step["rate"] == 20 and step["received_per_s"] > 0
    assert step["behind_p99_ms"] is not None and step["loop_lag_p99_ms"] >= 0
    assert step["reader"] == "stream-process" and len(step["cpu_by_process"]) == 2
    assert step["rss_end"] == sum(step["rss_by_process"]) > 0
    (baseline,) = results["ingest"]["baselines"]["single-process"]  # the default: the app alone
    assert baseline["rate"] == 20 and baseline["received_per_s"] > 0
    assert len(baseline["cpu_by_process"]) == 1
    assert "| single-process | 20 |" in stdout
    soak = results["ingest"]["soak"]  # memory sampled every 5 s
    assert soak["rate"] == 20 and soak["received_per_s"] > 0
    assert soak["rss_by_minute"] and soak["growth_mb_per_min"] is not None

    assert results["machine"]["cpu_probe_us"] > 0 and step["cpu_probe_us"] > 0
    assert [row["met"] for row in results["targets"]]  # the target table is filled in
    assert "| ours |" in stdout and "Targets" in stdout


@pytest.mark.usefixtures("redis_server")  # only for its rule: skip, or fail in CI, without Redis
def test_fanout_over_redis_in_one_and_two_processes(tmp_path: Path) -> None:
    # The bench starts a fresh redis-server of its own for each run.
    results, stdout = run_bench(tmp_path, "--only", "fanout", "--servers", "ours",
                                "--redis-procs", "1,2", *TINY_FANOUT)

    (scenario,) = results["fanout"]
    runs = scenario["runs"]
    assert set(runs) == {"ours", "ours (redis, 1 proc)", "ours (redis, 2 procs)"}
    for name, run in runs.items():
        assert_fanout_sane(name, run)
    for name, processes in (("ours (redis, 1 proc)", 1), ("ours (redis, 2 procs)", 2)):
        run = runs[name]
        assert run["server_processes"] == processes
        assert len(run["server_cpus"]) == processes + 1  # each server process, then redis-server
        assert run["redis_cpu"] == run["server_cpus"][-1]
        # the ticker published once in all, not once per process
        assert run["deliveries_per_s"] / run["connected"] < 1.5 * scenario["rate"], name
    assert "| ours (redis, 2 procs) |" in stdout
