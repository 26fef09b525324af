"""Every benchmark in one run: server fan-out (ours in memory and on Redis, against each
baseline), idle memory, then monitor ingest. Prints the tables and writes them, with every raw
figure, as JSON.

    python -m bench                      # the full run, a few minutes
    python -m bench --only fanout --seconds 10 --redis-procs 2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import uvicorn

from bench import report
from bench.load import LoadSpec, run_load
from bench.procs import (
    ROOT,
    RedisProcess,
    ServerProcess,
    cpu_probe_us,
    raise_nofile_limit,
    rss_bytes,
)

# Each server under test: the module run as `python -m MODULE --port P --ticker R --heartbeat S`.
SERVERS = {
    # The idle run opens 5,000 streams from one address: lift the per-client limit above that.
    "ours": ("server", ["--no-simulators", "--log-level", "warning",
                        "--max-streams", "20000", "--max-streams-per-client", "20000"]),
    "sse-starlette": ("bench.baselines.starlette_sse", []),
    "fastapi-sse": ("bench.baselines.fastapi_sse", []),
}
IDLE_RATE = "0.001"  # a ticker topic that exists but publishes nothing during the run
DEFAULT_RESULTS = ROOT / "bench" / "results" / "latest.json"


def fanout(server: str, subs: int, rate: float, seconds: float, heartbeat: float,
           procs: int, python: str) -> dict[str, Any]:
    """N subscribers on `ticker` at RATE events/s against one server process."""
    module, extra = SERVERS[server]
    with ServerProcess(module, *extra, "--ticker", str(rate), "--heartbeat", str(heartbeat),
                       python=python) as srv:
        result = run_load(LoadSpec(urls=(srv.url,), subs=subs, seconds=seconds, rate=rate,
                                   procs=procs), server_pids=[srv.pid])
    return asdict(result)


def capacity(scenario: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Ours at rising multiples of the scenario's rate until it falls behind: at the target's
    rate it delivers all there is, so a ratio to a saturated baseline is only a floor there."""
    steps: list[dict[str, Any]] = []
    if not scenario["runs"]["ours"]["kept_up"]:
        return steps
    for factor in args.capacity:
        rate = scenario["rate"] * factor
        print(f"fan-out {scenario['subs']} x {rate:g}/s: ours (capacity) ...", file=sys.stderr,
              flush=True)
        steps.append({"rate": rate, "run": fanout("ours", scenario["subs"], rate, args.seconds,
                                                  args.heartbeat, args.procs,
                                                  args.server_python)})
        if not steps[-1]["run"]["kept_up"]:
            break
    return steps


def redis_label(servers: int) -> str:
    return f"ours (redis, {servers} proc{'s' if servers > 1 else ''})"


def fanout_redis(servers: int, subs: int, rate: float, seconds: float, heartbeat: float,
                 procs: int, python: str, redis_server: str) -> dict[str, Any]:
    """The same load against SERVERS processes of ours on one fresh redis-server, each on its own
    port with an even share of the subscribers; the ticker publishes from one (the lease's)."""
    module, extra = SERVERS["ours"]
    with RedisProcess(redis_server) as redis, contextlib.ExitStack() as stack:
        ours = [stack.enter_context(ServerProcess(
            module, *extra, "--backend", redis.url, "--ticker", str(rate),
            "--heartbeat", str(heartbeat), python=python)) for _ in range(servers)]
        result = asdict(run_load(
            LoadSpec(urls=tuple(srv.url for srv in ours), subs=subs, seconds=seconds, rate=rate,
                     procs=procs),
            server_pids=[*(srv.pid for srv in ours), redis.pid]))
    result["server_processes"] = servers
    result["redis_cpu"] = result["server_cpus"][-1] if result["server_cpus"] else None
    return result


def idle(server: str, subs: int, seconds: float, heartbeat: float, python: str) -> dict[str, Any]:
    """Server RSS growth per open subscriber on a silent topic, heartbeats flowing."""
    module, extra = SERVERS[server]
    with ServerProcess(module, *extra, "--ticker", IDLE_RATE, "--heartbeat", str(heartbeat),
                       python=python) as srv:
        time.sleep(0.5)
        before = rss_bytes(srv.pid)
        result = asdict(run_load(LoadSpec(urls=(srv.url,), subs=subs, seconds=seconds,
                                          warmup=0.5), server_pids=[srv.pid]))
    after = result["server_rss_end"]
    result["server_rss_idle"] = before
    result["bytes_per_subscriber"] = (after - before) / result["connected"] if (
        result["connected"]) else None
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "uvicorn": uvicorn.__version__,
            "uvicorn_speedups": _installed("uvloop", "httptools"),
            "cpu_probe_us": cpu_probe_us(),
            "when": time.strftime("%Y-%m-%d %H:%M:%S %z")}



def _installed(*modules: str) -> str:
    """Which of uvicorn's optional speed-ups it picks up here (loop="auto", http="auto")."""
    found = [name for name in modules if importlib.util.find_spec(name) is not None]
    return " + ".join(found) or "none (asyncio + h11)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--only", default="fanout,idle,ingest", help="comma list of: fanout, idle, ingest")
    add("--servers", default=",".join(SERVERS), help="comma list of: " + ", ".join(SERVERS))
    add("--fanout", default="100x3000,1000x300", metavar="SUBSxRATE,...",
        help="fan-out scenarios: subscribers x events per second")
    add("--redis-procs", default=None, metavar="N,...",
        help="also run each fan-out against ours with a Redis backend, in N server processes on "
             "one redis-server the bench starts (default: 1,2 when redis-server is installed; "
             "'' for none)")
    add("--redis-server", default=shutil.which("redis-server"), metavar="PATH",
        help="the redis-server binary")
    add("--capacity", default="2,3,4,6", metavar="K,...",
        help="then ours alone at K times each fan-out rate, in rising order until it falls "
             "behind: its capacity, where the baselines are already saturated ('' for none)")
    add("--seconds", type=float, default=5.0, help="measurement window of each fan-out run")
    add("--heartbeat", type=float, default=5.0, help="server heartbeat interval in fan-out runs")
    add("--procs", type=int, default=1, help="client processes (the machine has 2 cores)")
    add("--idle-subs", type=int, default=5000, help="open subscribers in the idle-memory run")
    add("--idle-seconds", type=float, default=3.0, help="idle window (heartbeats every 1 s)")
    add("--ingest-rates", default="500,1000,2000,5000",
        help="events/s per pane, tried in rising order")
    add("--ingest-seconds", type=float, default=5.0, help="seconds at each ingest rate")
    add("--ingest-warmup", type=float, default=3.0,
        help="seconds after the panes' first events before measuring")
    add("--soak-seconds", type=float, default=0.0,
        help="then this long at the highest rate, for memory (the target: 600)")
    add("--server-python", default=sys.executable,
        help="interpreter the servers run on (another venv, to compare installs)")
    add("--json", type=Path, default=DEFAULT_RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    args.servers = args.servers.split(",")
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown or "ours" not in args.servers:
        parser.error(f"--servers must include ours and name only {', '.join(SERVERS)}")
    redis_asked = args.redis_procs is not None
    try:
        args.fanout = [tuple(int(n) for n in item.split("x")) for item in args.fanout.split(",")]
        args.capacity = sorted(float(k) for k in args.capacity.split(",") if k.strip())
        args.ingest_rates = [int(n) for n in args.ingest_rates.split(",")]
        args.redis_procs = [int(n) for n in (args.redis_procs if redis_asked else "1,2").split(",")
                            if n.strip()]
    except ValueError:
        parser.error("--fanout takes SUBSxRATE,..., --ingest-rates RATE,... and --redis-procs "
                     "N,... (integers), --capacity K,... (numbers)")
    if any(k <= 1 for k in args.capacity):
        parser.error("--capacity: each factor must be above 1")
    if any(n < 1 for n in args.redis_procs):
        parser.error("--redis-procs: each count must be at least 1")
    if args.redis_procs and not args.redis_server:
        if redis_asked:
            parser.error("--redis-procs: redis-server is not installed (apt-get install "
                         "redis-server); or name it with --redis-server")
        print("bench: redis-server is not installed, so no Redis fan-out runs", file=sys.stderr)
        args.redis_procs = []
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_nofile_limit()
    try:
        run(args)
    except RuntimeError as exc:  # a server or client process failed: say which, and why
        sys.exit(f"bench: {exc}")


def run(args: argparse.Namespace) -> None:
    results: dict[str, Any] = {"machine": machine(), "args": {
        k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()}}
    if "fanout" in args.only:
        results["fanout"] = []
        for subs, rate in args.fanout:
            runs = {}
            for server in args.servers:
                print(f"fan-out {subs} x {rate}/s: {server} ...", file=sys.stderr, flush=True)
                runs[server] = fanout(server, subs, rate, args.seconds, args.heartbeat, args.procs,
                                     args.server_python)
            for servers in args.redis_procs:
                label = redis_label(servers)
                print(f"fan-out {subs} x {rate}/s: {label} ...", file=sys.stderr, flush=True)
                runs[label] = fanout_redis(servers, subs, rate, args.seconds, args.heartbeat,
                                           args.procs, args.server_python, args.redis_server)
            scenario = {"subs": subs, "rate": rate, "runs": runs}
            scenario["capacity"] = capacity(scenario, args)
            results["fanout"].append(scenario)
    if "idle" in args.only:
        results["idle"] = {"subs": args.idle_subs, "runs": {}}
        for server in args.servers:
            print(f"idle {args.idle_subs} subscribers: {server} ...", file=sys.stderr, flush=True)
            results["idle"]["runs"][server] = idle(server, args.idle_subs, args.idle_seconds, 1.0,
                                                   args.server_python)
    if "ingest" in args.only:
        from bench import ingest  # imports Textual and the monitor: only when asked for

        print("monitor ingest ...", file=sys.stderr, flush=True)
        results["ingest"] = ingest.run(args.ingest_rates, args.ingest_seconds, args.soak_seconds,
                                       args.ingest_warmup)
    results["machine"]["cpu_probe_us_end"] = cpu_probe_us()
    results["targets"] = report.targets(results)
    text = report.render(results)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
