"""Monitor ingest: the real app, headless under Pilot, with four panes fed by the real server
(`bench.feeder`) at rising rates. Reports, per rate, how far the panes are behind the stream
(publish time of the newest event a pane has taken, drawn within a flush), event-loop lag, and
memory and CPU.

Two readers are measured at each rate: `--stream-process`, the streams read by a second process
(`monitor.client.process`), and the default, the streams read in the app's own loop.
Each rate runs in a fresh process (`python -m bench.ingest --url URL --rate R`), so memory
figures belong to that run alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any

from bench.feeder import TOPICS
from bench.procs import ROOT, ServerProcess, cpu_probe_us, cpu_seconds, rss_bytes
from monitor.client.process import StreamProcess
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from monitor.tui.app import MonitorApp
from monitor.tui.widgets.pane import StreamPane

PANES = len(TOPICS)
READERS = ("stream-process", "single-process")  # the soak's reader (fast streams), then the default
KEPT_UP_BEHIND_MS = 1000.0  # "within a second of the stream"
KEPT_UP_SHARE = 0.95  # ... while drawing at least this share of what was published
SAMPLE_INTERVAL = 0.1
WARMUP = 3.0  # seconds after every pane drew its first event
LAG_TICK = 0.01
RSS_INTERVAL = 5.0  # seconds between memory samples


def _percentile(values: Sequence[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


async def _watch_loop_lag(lags: array[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_TICK)
        lags.append(loop.time() - started - LAG_TICK)


class _Processes:
    """The app's process and, when it has one, its stream process: memory and CPU of both."""

    def __init__(self, process: StreamProcess | None) -> None:
        self.stream_process = process

    def pids(self) -> list[int]:
        process_pid = self.stream_process.pid if self.stream_process is not None else None
        return [os.getpid(), *([process_pid] if process_pid is not None else [])]

    def rss(self) -> list[int]:
        return [rss_bytes(pid) for pid in self.pids()]

    def cpu(self) -> list[float]:
        return [cpu_seconds(pid) for pid in self.pids()]


async def measure(url: str, rate: float, seconds: float, warmup: float = WARMUP,
                  reader: str = READERS[0]) -> dict[str, Any]:
    """One rate: open the app, wait for every pane to draw, then sample for `seconds`.

    How far behind a pane is comes from the pane itself: the publish time of the newest event it
    has taken (its latency window's), against the clock. Memory and CPU are the app's and, with
    the stream process as `reader`, that process's.
    """
    configs = [StreamConfig(url=with_topic(f"{url}/stream", topic), topic=topic)
               for topic in TOPICS]
    process = StreamProcess() if reader == READERS[0] else None
    app = MonitorApp(configs, source_factory=process.source if process is not None else SSEStream)
    processes = _Processes(process)
    async with app.run_test(headless=True, size=(200, 60)):
        panes = list(app.screen.query(StreamPane))
        deadline = time.monotonic() + 15
        while any(p.renderer.stats.events == 0 for p in panes):
            if time.monotonic() > deadline:
                raise RuntimeError("a pane drew no event within 15 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)  # past the connection burst and the first full redraw
        # Doubles in one buffer: a float object per sample, 80 a second, grew the soak's RSS
        lags = array("d")
        watcher = asyncio.create_task(_watch_loop_lag(lags))
        behind = array("d")  # milliseconds, 40 a second over a soak: no float object each
        rss: list[tuple[float, list[int]]] = []  # (seconds, RSS of each process)
        probe = cpu_probe_us()  # the machine's speed at this step (it varies on shared hosts)
        drawn_before = sum(p.renderer.stats.events for p in panes)
        cpu_before = processes.cpu()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            await asyncio.sleep(SAMPLE_INTERVAL)
            now = time.time()
            for pane in panes:
                published = pane.renderer.stats.latency.last_published
                if published is not None:
                    behind.append((now - published) * 1000)
            if not rss or elapsed - rss[-1][0] >= RSS_INTERVAL:
                rss.append((elapsed, processes.rss()))
        drawn = sum(p.renderer.stats.events for p in panes) - drawn_before
        cpu = [(end - start) / seconds for start, end in zip(cpu_before, processes.cpu(),
                                                              strict=True)]
        rss_end = processes.rss()
        watcher.cancel()
        end_behind = behind[-PANES:]
    if process is not None:
        await process.aclose()
    received_per_s = drawn / seconds
    behind_p99 = _percentile(behind, 0.99)
    on_time = (behind_p99 is not None and behind_p99 <= KEPT_UP_BEHIND_MS
               and max(end_behind, default=KEPT_UP_BEHIND_MS + 1) <= KEPT_UP_BEHIND_MS)
    kept_up = on_time and received_per_s >= KEPT_UP_SHARE * PANES * rate
    return {
        "rate": rate, "seconds": seconds, "received_per_s": received_per_s,
        "behind_p50_ms": _percentile(behind, 0.5), "behind_p99_ms": behind_p99,
        "behind_max_ms": max(behind, default=None),
        "loop_lag_p99_ms": (_percentile(lags, 0.99) or 0) * 1000,
        "loop_lag_max_ms": max(lags, default=0) * 1000,
        "kept_up": kept_up, "rss_samples": rss, "reader": reader,
        # the app's figures, then its stream process's (when it has one)
        "rss_end": sum(rss_end), "rss_by_process": rss_end, "cpu_by_process": cpu,
        "cpu_probe_us": probe,
    }


def _step(url: str, rate: float, seconds: float, warmup: float, reader: str) -> dict[str, Any]:
    """One rate in a fresh process: `python -m bench.ingest --url URL --rate R --seconds S`."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--url", url, "--rate", str(rate),
         "--seconds", str(seconds), "--warmup", str(warmup), "--reader", reader],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ingest at {rate}/s failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _with_feeder(rate: float, seconds: float, warmup: float,
                 reader: str = READERS[0]) -> dict[str, Any]:
    with ServerProcess("bench.feeder", "--rate", str(rate)) as feeder:
        return _step(feeder.url, rate, seconds, warmup, reader)


def _rising(rates: list[int], seconds: float, warmup: float, reader: str) -> list[dict[str, Any]]:
    """Steps at rising rates until the panes fall behind."""
    steps = []
    for rate in sorted(rates):
        steps.append(_with_feeder(rate, seconds, warmup, reader=reader))
        if not steps[-1]["kept_up"]:
            break
    return steps


def run(rates: list[int], seconds: float, soak_seconds: float = 0.0,
        warmup: float = WARMUP, readers: tuple[str, ...] = READERS) -> dict[str, Any]:
    """For each reader, rising rates until the panes fall behind; then, optionally, a soak at the
    highest rate with the first reader (the stream process, made for fast streams)."""
    by_reader = {reader: _rising(rates, seconds, warmup, reader) for reader in readers}
    steps = by_reader[readers[0]]
    kept = [s for s in steps if s["kept_up"]]
    best = kept[-1] if kept else None
    result: dict[str, Any] = {
        "panes": PANES, "reader": readers[0], "steps": steps,
        "baselines": {reader: by_reader[reader] for reader in readers[1:]},
        "highest_kept_up": best["rate"] if best else None,
        "loop_lag_p99_ms_at_highest": best["loop_lag_p99_ms"] if best else None,
    }
    if soak_seconds > 0:  # at the highest rate asked (the target's 5,000/s), kept up or not
        soak_rate = max(rates)
        soak = _with_feeder(soak_rate, soak_seconds, warmup, reader=readers[0])
        samples = soak["rss_samples"]
        # After the first quarter (bounded stores and windows filling), the least-squares slope
        warm = [(t, rss) for t, rss in samples if t >= soak_seconds / 4]
        by_process = [_slope([(t, rss[i]) for t, rss in warm]) for i in range(len(samples[0][1]))]
        result["soak"] = {"rate": soak_rate, "seconds": soak_seconds,
                          "rss_start": sum(samples[0][1]), "rss_end": soak["rss_end"],
                          "rss_by_minute": [sum(rss) for t, rss in samples
                                            if t % 60 < RSS_INTERVAL],
                          "growth_mb_per_min": _slope([(t, sum(rss)) for t, rss in warm]),
                          "growth_mb_per_min_by_process": by_process,
                          "kept_up": soak["kept_up"], "received_per_s": soak["received_per_s"],
                          "rss_start_by_process": samples[0][1],
                          "rss_end_by_process": soak["rss_by_process"]}
    return result


def _slope(samples: list[tuple[float, int]]) -> float | None:
    """MB per minute: the least-squares slope of (seconds, bytes) samples."""
    if len(samples) < 2:
        return None
    return statistics.linear_regression([t / 60 for t, _ in samples],
                                        [rss / 1e6 for _, rss in samples]).slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a bench.feeder server's base URL")
    parser.add_argument("--rate", type=float, required=True, help="its events/s per topic")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument("--reader", choices=READERS, default=READERS[0],
                        help="who reads the streams: a stream process or the app (the default)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.url, args.rate, args.seconds, args.warmup,
                                         reader=args.reader))))


if __name__ == "__main__":
    main()
