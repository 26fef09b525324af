"""Monitor ingest: the real app, headless under Pilot, with four panes fed by the real server
(`bench.feeder`) at rising rates. Reports, per rate, how far the panes are behind the stream
(publish time of the newest event a pane has drawn), event-loop lag, and the app's memory.

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
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from bench.feeder import TOPICS
from bench.procs import ROOT, ServerProcess, cpu_probe_us, rss_bytes
from monitor.app import MonitorApp
from monitor.events import Event, StreamItem
from monitor.latency import publish_time
from monitor.stream import SSEStream, StreamConfig, with_topic
from monitor.widgets.pane import StreamPane

PANES = len(TOPICS)
KEPT_UP_BEHIND_MS = 1000.0  # "within a second of the stream"
KEPT_UP_SHARE = 0.95  # ... while drawing at least this share of what was published
SAMPLE_INTERVAL = 0.1
WARMUP = 3.0  # seconds after every pane drew its first event
LAG_TICK = 0.01
RSS_INTERVAL = 5.0  # seconds between memory samples
REMEMBERED_EVENTS = 200_000  # per pane: ids whose publish time can still be looked up


class TimedStream:
    """The real SSEStream, remembering recent events by id so a pane's newest drawn event can be
    traced back to its publish time.

    It keeps only their data strings: hundreds of thousands of Event objects held here made the
    garbage collector's full passes take up to 0.4 s, in the app's loop, measuring ourselves.
    """

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.stream = SSEStream(config)
        self.recent: OrderedDict[str, str] = OrderedDict()

    async def items(self) -> AsyncIterator[StreamItem]:
        recent = self.recent
        async for item in self.stream.items():
            if isinstance(item, Event):
                recent[item.id] = item.data
                if len(recent) > REMEMBERED_EVENTS:
                    recent.popitem(last=False)
            yield item

    def reconnect(self, resume: bool = True) -> None:
        self.stream.reconnect(resume)

    def stop(self, reason: str = "stopped by user") -> None:
        self.stream.stop(reason)

    def behind(self, last_id: str, now: float) -> float | None:
        """Seconds between the publish of event `last_id` and `now`."""
        data = self.recent.get(last_id)
        published = publish_time(json.loads(data)) if data else None
        return None if published is None else now - published


def _percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


async def _watch_loop_lag(lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_TICK)
        lags.append(loop.time() - started - LAG_TICK)


async def measure(url: str, rate: float, seconds: float, warmup: float = WARMUP,
                  timed: bool = True) -> dict[str, Any]:
    """One rate: open the app, wait for every pane to draw, then sample for `seconds`.

    With `timed` False the panes read plain SSEStreams: no table of publish times grows the
    app's memory (a soak), and nothing is behind or not (kept up is judged by the rate alone).
    """
    configs = [StreamConfig(url=with_topic(f"{url}/stream", topic), topic=topic)
               for topic in TOPICS]
    app = MonitorApp(configs, source_factory=TimedStream if timed else SSEStream)
    async with app.run_test(headless=True, size=(200, 60)):
        panes = list(app.screen.query(StreamPane))
        deadline = time.monotonic() + 15
        while any(p.renderer.stats.events == 0 for p in panes):
            if time.monotonic() > deadline:
                raise RuntimeError("a pane drew no event within 15 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)  # past the connection burst and the first full redraw
        lags: list[float] = []
        watcher = asyncio.create_task(_watch_loop_lag(lags))
        behind: list[float] = []
        rss: list[tuple[float, int]] = []
        probe = cpu_probe_us()  # the machine's speed at this step (it varies on shared hosts)
        drawn_before = sum(p.renderer.stats.events for p in panes)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            await asyncio.sleep(SAMPLE_INTERVAL)
            now = time.time()
            for pane in panes:
                source = pane.source
                if isinstance(source, TimedStream):
                    late = source.behind(pane.renderer.stats.last_id, now)
                    if late is not None:
                        behind.append(late * 1000)
            if not rss or elapsed - rss[-1][0] >= RSS_INTERVAL:
                rss.append((elapsed, rss_bytes_self()))
        drawn = sum(p.renderer.stats.events for p in panes) - drawn_before
        watcher.cancel()
        end_behind = behind[-PANES:]
    received_per_s = drawn / seconds
    behind_p99 = _percentile(behind, 0.99)
    on_time = not timed or (
        behind_p99 is not None and behind_p99 <= KEPT_UP_BEHIND_MS
        and max(end_behind, default=KEPT_UP_BEHIND_MS + 1) <= KEPT_UP_BEHIND_MS)
    kept_up = on_time and received_per_s >= KEPT_UP_SHARE * PANES * rate
    return {
        "rate": rate, "seconds": seconds, "received_per_s": received_per_s,
        "behind_p50_ms": _percentile(behind, 0.5), "behind_p99_ms": behind_p99,
        "behind_max_ms": max(behind, default=None),
        "loop_lag_p99_ms": (_percentile(lags, 0.99) or 0) * 1000,
        "loop_lag_max_ms": max(lags, default=0) * 1000,
        "kept_up": kept_up, "rss_samples": rss, "rss_end": rss_bytes_self(),
        "cpu_probe_us": probe,
    }


def rss_bytes_self() -> int:
    return rss_bytes(os.getpid())


def _step(url: str, rate: float, seconds: float, warmup: float, timed: bool) -> dict[str, Any]:
    """One rate in a fresh process: `python -m bench.ingest --url URL --rate R --seconds S`."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--url", url, "--rate", str(rate),
         "--seconds", str(seconds), "--warmup", str(warmup), *([] if timed else ["--untimed"])],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ingest at {rate}/s failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _with_feeder(rate: float, seconds: float, warmup: float, timed: bool = True) -> dict[str, Any]:
    with ServerProcess("bench.feeder", "--rate", str(rate)) as feeder:
        return _step(feeder.url, rate, seconds, warmup, timed)


def run(rates: list[int], seconds: float, soak_seconds: float = 0.0,
        warmup: float = WARMUP) -> dict[str, Any]:
    """Rising rates until the panes fall behind; then, optionally, a soak at the highest rate."""
    steps = []
    for rate in sorted(rates):
        steps.append(_with_feeder(rate, seconds, warmup))
        if not steps[-1]["kept_up"]:
            break
    kept = [s for s in steps if s["kept_up"]]
    best = kept[-1] if kept else None
    result: dict[str, Any] = {
        "panes": PANES, "steps": steps,
        "highest_kept_up": best["rate"] if best else None,
        "loop_lag_p99_ms_at_highest": best["loop_lag_p99_ms"] if best else None,
    }
    if soak_seconds > 0:  # at the highest rate asked (the 5,000/s), kept up or not
        soak_rate = max(rates)
        soak = _with_feeder(soak_rate, soak_seconds, warmup, timed=False)
        samples = soak["rss_samples"]
        # After the first quarter (bounded stores and windows filling), the least-squares slope
        warm = [s for s in samples if s[0] >= soak_seconds / 4]
        growth = (statistics.linear_regression([t / 60 for t, _ in warm],
                                               [rss / 1e6 for _, rss in warm]).slope
                  if len(warm) >= 2 else None)
        result["soak"] = {"rate": soak_rate, "seconds": soak_seconds,
                          "rss_start": samples[0][1], "rss_end": soak["rss_end"],
                          "rss_by_minute": [rss for t, rss in samples if t % 60 < RSS_INTERVAL],
                          "growth_mb_per_min": growth, "kept_up": soak["kept_up"],
                          "received_per_s": soak["received_per_s"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a bench.feeder server's base URL")
    parser.add_argument("--rate", type=float, required=True, help="its events/s per topic")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument("--untimed", action="store_true",
                        help="plain SSEStreams, no publish-time table: for memory over time")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.url, args.rate, args.seconds, args.warmup,
                                         timed=not args.untimed))))


if __name__ == "__main__":
    main()
