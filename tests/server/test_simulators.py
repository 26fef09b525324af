"""Simulated streams: seeded determinism across server runs, and the shape of what they emit."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from server.simulators import TIME_FIELDS, paced_batches, steps_for
from tests.server.helpers import data, open_stream, topic_info, wait_for
from tests.servers import ServerProcess

TOPICS = ["progress", "logs", "tokens"]
COUNT = 30


async def first_events(server: ServerProcess, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """The topic's first COUNT events, replayed from the start (a malformed id replays all)."""
    await wait_for(lambda: (topic_info(server.url, topic) or {}).get("backlog", 0) >= COUNT, 10)
    async with open_stream(server.url, topic, "from-the-start") as stream:
        gap, *events = await stream.take(COUNT + 1)
    assert gap.type == "gap" and data(gap)["resume_from"].endswith("-1")
    return [(e.type, data(e)) for e in events]


def without_time(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, {k: v for k, v in fields.items() if k not in TIME_FIELDS})
            for name, fields in events]


@pytest.mark.anyio
async def test_same_seed_same_streams_other_seed_other_streams(
        server_factory: Callable[..., ServerProcess]) -> None:
    flags = ("--speed", "40", "--heartbeat", "0", "--backlog", "100000")  # nothing evicted
    first, again = (server_factory("--seed", "11", *flags) for _ in range(2))
    other = server_factory("--seed", "12", *flags)
    for topic in TOPICS:
        runs = [await first_events(server, topic) for server in (first, again, other)]
        for events in runs:
            assert all(isinstance(fields["ts"], float) for _, fields in events)
        assert without_time(runs[0]) == without_time(runs[1])
        assert without_time(runs[0]) != without_time(runs[2])


def take(topic: str, count: int, seed: int = 3) -> list[tuple[float, str, dict[str, Any]]]:
    return list(itertools.islice(steps_for(topic, seed), count))


def test_progress_follows_the_ag_ui_run_lifecycle() -> None:
    steps = take("progress", 3000)
    names = [name for _, name, _ in steps]
    assert names[0] == "RUN_STARTED"
    assert set(names) == {"RUN_STARTED", "STEP_STARTED", "STEP_PROGRESS", "STEP_FINISHED",
                          "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END",
                          "TOOL_CALL_RESULT", "RUN_FINISHED", "RUN_ERROR"}
    run_id = None
    for _, name, fields in steps:  # every run ends exactly once, before the next starts
        if name == "RUN_STARTED":
            assert run_id is None
            run_id = fields["runId"]
        elif name in ("RUN_FINISHED", "RUN_ERROR"):
            assert fields["runId"] == run_id
            run_id = None
        elif name == "STEP_PROGRESS":
            assert 0 < fields["percent"] <= 100 and fields["message"]
            assert fields["runId"] == run_id


def test_logs_are_structured_records() -> None:
    records = [fields for _, _, fields in take("logs", 2000)]
    levels = {record["level"] for record in records}
    assert {"INFO", "WARNING", "ERROR"} <= levels
    for record in records:
        assert {"level", "logger", "message", "trace_id", "span_id"} <= set(record)
        assert len(record["trace_id"]) == 32 and len(record["span_id"]) == 16
    errors = [record for record in records if record["level"] == "ERROR"]
    assert all(record["traceback"].startswith("Traceback") for record in errors)


def test_tokens_stream_messages_with_usage() -> None:
    steps = take("tokens", 2000)
    text: list[str] = []
    for _, name, fields in steps:
        if name == "TEXT_MESSAGE_START":
            text = []
        elif name == "TEXT_MESSAGE_CONTENT":
            text.append(fields["delta"])
        elif name == "TEXT_MESSAGE_END":
            assert fields["usage"]["output_tokens"] == len(text)
            message = "".join(text)
            assert message.endswith(".") and "  " not in message and len(message.split()) > 10
    delays = sorted(delay for delay, name, _ in steps if name == "TEXT_MESSAGE_CONTENT")
    assert 0.02 <= delays[len(delays) // 2] <= 0.1  # tens of tokens per second at speed 1


@pytest.mark.anyio
async def test_paced_batches_cover_every_number_once_at_the_rate() -> None:
    loop = asyncio.get_running_loop()
    started, seen, ticks = loop.time(), [], 0
    async for batch in paced_batches(2000):
        seen.extend(batch)
        ticks += 1
        if len(seen) >= 400:
            break
    elapsed = loop.time() - started
    assert seen[:400] == list(range(1, 401))  # contiguous ranges: none lost, none twice
    assert ticks < 400  # many per tick, not one a tick
    assert 0.15 < elapsed < 1.0  # 400 at 2,000/s: about 0.2 s
