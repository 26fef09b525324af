"""The results as Markdown tables (printed, and pasted into docs/benchmarks.md) and the targets."""

from __future__ import annotations

from typing import Any

KB = 1000  # bytes; the target "20 KB per idle subscriber" read strictly
FLAT_MB_PER_MIN = 0.25  # "flat": at most 2.5 MB over ten minutes, about 2 % of the app's RSS


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours and theirs else None


def _num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _cpu(run: dict[str, Any]) -> str:
    """The server's CPU share; with Redis, every server process and redis-server summed."""
    total = run["server_cpu"]
    text = _num(total * 100 if total is not None else None, 0, "%")
    if run.get("redis_cpu") is not None:
        text += f" (redis {run['redis_cpu'] * 100:.0f}%)"
    return text


def _redis_notes(scenario: dict[str, Any]) -> list[str]:
    runs = [(name, run) for name, run in scenario["runs"].items() if "redis_cpu" in run]
    if not runs:
        return []
    published = "; ".join(f"{name}: {_num(run['published_per_s'])}/s" for name, run in runs)
    return ["", "Redis rows: our server with `--backend redis://`, N processes on one "
            "redis-server, each on its own port with an even share of the subscribers; the "
            "ticker publishes from one of them (the lease holder). Server CPU sums them and "
            f"redis-server. Published by the ticker, of {scenario['rate']:,}/s asked: "
            f"{published}."]


def _fanout_table(scenario: dict[str, Any]) -> list[str]:
    runs = scenario["runs"]
    ours = runs["ours"]
    lines = [
        f"Fan-out: {scenario['subs']:,} subscribers x {scenario['rate']:,} events/s",
        "",
        "| server | connected | deliveries/s | ours ÷ it | slowest sub/s | p50 ms | p99 ms "
        "| kept up | server CPU | client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|---:|---:|",
    ]
    for name, run in runs.items():
        ratio = _ratio(ours["deliveries_per_s"], run["deliveries_per_s"])
        lines.append(
            f"| {name} | {run['connected']:,} | {_num(run['deliveries_per_s'])} | "
            f"{'' if name.startswith('ours') else _num(ratio, 1, 'x')} | "
            f"{_num(run['slowest_per_s'])} | "
            f"{_num(run['latency_p50_ms'], 1)} | "
            f"{_num(run['latency_p99_ms'], 1)} | {'yes' if run['kept_up'] else 'no'} | "
            f"{_cpu(run)} | {_num(run['client_cpu'] * 100, 0, '%')} |")
    if ours["kept_up"]:
        lines += ["", "Ours delivered all that was offered, so each ratio is a floor."]
    return lines + _capacity_notes(scenario) + _redis_notes(scenario)


def capacity_of_ours(scenario: dict[str, Any]) -> dict[str, Any] | None:
    """Ours at the highest rate it kept up at: the scenario's own run or a capacity step."""
    kept = [step["run"] for step in scenario.get("capacity", []) if step["run"]["kept_up"]]
    ours = scenario["runs"]["ours"]
    return kept[-1] if kept else ours if ours["kept_up"] else None


def _capacity_notes(scenario: dict[str, Any]) -> list[str]:
    steps = scenario.get("capacity", [])
    if not steps:
        return []
    rows = "; ".join(
        f"{step['rate']:,.0f}/s: {_num(step['run']['deliveries_per_s'])} deliveries/s, p99 "
        f"{_num(step['run']['latency_p99_ms'], 1)} ms, server CPU "
        f"{_cpu(step['run'])}, {'kept up' if step['run']['kept_up'] else 'fell behind'}"
        for step in steps)
    best = capacity_of_ours(scenario)
    ratios = ", ".join(
        f"{_num(_ratio(best['deliveries_per_s'], run['deliveries_per_s']), 1, 'x')} {name}"
        for name, run in scenario["runs"].items() if not name.startswith("ours")) if best else ""
    floor = " (it kept up at every rate tried, so these too are floors)" if all(
        step["run"]["kept_up"] for step in steps) else ""
    return ["", f"Capacity of ours (the same {scenario['subs']:,} subscribers, higher rates, "
            f"same run): {rows}. Highest kept up, against each baseline at "
            f"{scenario['rate']:,}/s: {ratios or '-'}{floor}."]


def _idle_table(idle: dict[str, Any]) -> list[str]:
    runs = idle["runs"]
    ours = runs["ours"]["bytes_per_subscriber"]
    lines = [
        f"Idle: {idle['subs']:,} open subscribers, heartbeats every second",
        "",
        "| server | connected | heard in window | RSS idle MB | RSS open MB | KB per subscriber "
        "| it ÷ ours |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        per_sub = run["bytes_per_subscriber"]
        lines.append(
            f"| {name} | {run['connected']:,} | {run['connected'] - run['silent_subs']:,} | "
            f"{_num(run['server_rss_idle'] / 1e6, 1)} | {_num(run['server_rss_end'] / 1e6, 1)} | "
            f"{_num(per_sub / KB if per_sub is not None else None, 1)} | "
            f"{'' if name == 'ours' else _num(_ratio(per_sub, ours), 1, 'x')} |")
    return lines


def _ingest_table(ingest: dict[str, Any]) -> list[str]:
    lines = [
        f"Monitor ingest: {ingest['panes']} panes, events/s per pane (real app under Pilot, "
        "headless, fed by the real server). `stream-process`: a second process reads the "
        "streams (`--stream-process`); `single-process`: the app reads them in its own loop "
        "(the default). CPU and RSS: the app + its stream process.",
        "",
        "| reader | rate/pane | drawn/s (all panes) | behind p99 ms | behind max ms "
        "| loop lag p99 ms | kept up | CPU (cores) | RSS MB | CPU probe µs |",
        "|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|",
    ]
    readers = {ingest.get("reader", "stream-process"): ingest["steps"],
               **ingest.get("baselines", {})}
    for reader, steps in readers.items():
        for step in steps:
            cpu = step.get("cpu_by_process", [])
            rss = step.get("rss_by_process", [step["rss_end"]])
            lines.append(
                f"| {reader} | {_num(step['rate'])} | {_num(step['received_per_s'])} | "
                f"{_num(step['behind_p99_ms'], 0)} | {_num(step['behind_max_ms'], 0)} | "
                f"{_num(step['loop_lag_p99_ms'], 1)} | {'yes' if step['kept_up'] else 'no'} | "
                f"{' + '.join(f'{c:.2f}' for c in cpu) or 'n/a'} | "
                f"{' + '.join(f'{r / 1e6:.0f}' for r in rss)} | "
                f"{_num(step.get('cpu_probe_us'))} |")
    soak = ingest.get("soak")
    if soak:
        minutes = ", ".join(f"{rss / 1e6:.1f}" for rss in soak["rss_by_minute"])
        lines += ["", f"Soak at {_num(soak['rate'])}/pane for {soak['seconds']:.0f} s (the app "
                  f"with --stream-process, {_num(soak['received_per_s'])} drawn/s, "
                  f"{'within' if soak['kept_up'] else 'not within'} a second of the stream): "
                  f"RSS of the app + its stream process "
                  f"{soak['rss_start'] / 1e6:.1f} MB -> {soak['rss_end'] / 1e6:.1f} MB; "
                  f"each minute: {minutes} MB; slope after the first quarter "
                  f"{_num(soak['growth_mb_per_min'], 2, ' MB/min')}"
                  + (" (app + stream process: " + " + ".join(
                      _num(g, 2) for g in soak["growth_mb_per_min_by_process"]) + ")"
                     if len(soak.get("growth_mb_per_min_by_process", [])) > 1 else "") + "."]
    return lines


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets against this run; `met` is None where the run lacks the figure."""
    checks: list[dict[str, Any]] = []

    def check(target: str, measured: str, met: bool | None) -> None:
        checks.append({"target": target, "measured": measured, "met": met})

    for scenario in results.get("fanout", []):
        runs = scenario["runs"]
        ours, theirs = runs["ours"], runs.get("sse-starlette")
        best = capacity_of_ours(scenario)
        ratio = _ratio(best and best["deliveries_per_s"], theirs and theirs["deliveries_per_s"])
        shape = f"{scenario['subs']} x {scenario['rate']}/s"
        basis = "" if best is ours or not best else (
            f" (capacity: ours kept up at {best['spec']['rate']:,.0f}/s)")
        if (scenario["subs"], scenario["rate"]) == (100, 3000):
            check(f"{shape}: keep up", "kept up" if ours["kept_up"] else "fell behind",
                  ours["kept_up"])
            check(f"{shape}: >= 4x sse-starlette", _num(ratio, 1, "x") + basis,
                  None if ratio is None else ratio >= 4)
            check(f"{shape}: p99 <= 10 ms", _num(ours["latency_p99_ms"], 1, " ms"),
                  None if ours["latency_p99_ms"] is None else ours["latency_p99_ms"] <= 10)
        elif (scenario["subs"], scenario["rate"]) == (1000, 300):
            check(f"{shape}: >= 2.5x sse-starlette", _num(ratio, 1, "x") + basis,
                  None if ratio is None else ratio >= 2.5)
    if "idle" in results:
        idle = results["idle"]
        per_sub = idle["runs"]["ours"]["bytes_per_subscriber"]
        measured = _num(per_sub / KB if per_sub is not None else None, 1, " KB")
        check(f"<= 20 KB per idle subscriber at {idle['subs']:,}", measured,
              None if per_sub is None or idle["subs"] < 5000 else per_sub <= 20 * KB)
    if "ingest" in results:
        ingest = results["ingest"]
        best = ingest["highest_kept_up"]
        check("monitor: 4 panes x 5,000/s within 1 s", f"highest kept up: {_num(best)}/pane",
              (best or 0) >= 5000)
        lag = ingest["loop_lag_p99_ms_at_highest"]
        check("monitor: event-loop lag p99 <= 50 ms (at that rate)", _num(lag, 1, " ms"),
              None if lag is None else lag <= 50)
        soak = ingest.get("soak")
        growth = soak and soak["growth_mb_per_min"]
        check("monitor: memory flat over 10 minutes",
              f"{growth:+.2f} MB/min over {soak['seconds']:.0f} s" if soak and growth is not None
              else "not run (--soak-seconds 600)",
              None if not soak or growth is None or soak["seconds"] < 600
              else abs(growth) <= FLAT_MB_PER_MIN)
    return checks


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    probe = machine.get("cpu_probe_us")
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, "
             f"uvicorn {machine['uvicorn']} ({machine.get('uvicorn_speedups', '?')}); "
             f"{machine['when']}" + (f"; CPU probe {probe:.0f} µs at the start, "
                                     f"{machine['cpu_probe_us_end']:.0f} µs at the end (a fixed "
                                     "pure-Python loop; lower is faster)" if probe else ""), ""]
    for scenario in results.get("fanout", []):
        lines += [*_fanout_table(scenario), ""]
    if "idle" in results:
        lines += [*_idle_table(results["idle"]), ""]
    if "ingest" in results:
        lines += [*_ingest_table(results["ingest"]), ""]
    lines += ["Targets", "", "| target | measured | met |", "|---|---|:---:|"]
    for row in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {row['measured']} | {met} |")
    return "\n".join(lines)
