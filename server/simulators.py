"""Simulated agent streams: progress (AG-UI run lifecycle), structured logs, LLM token streams.

Each simulator is a plain generator of (delay, event, data) steps drawn from its own seeded RNG,
so a seed fixes the whole sequence; only the runner adds wall-clock fields.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from server import wire

Step = tuple[float, str, dict[str, Any]]  # seconds to wait at speed 1, event name, data
Publish = Callable[[str, str, str], Awaitable[object]]  # (topic, event, JSON data)
# (topic, [(event, JSON data), ...])
PublishMany = Callable[[str, Sequence[tuple[str, str]]], Awaitable[object]]
MAX_TICKER_BATCH = 500  # events in one publish: after a stall the backlog goes out in pieces

TIME_FIELDS = frozenset({"ts", "timestamp"})  # the only fields a seed does not fix

STEPS = {
    "plan": ("list_files", {"path": "src/"}),
    "search_docs": ("web_search", {"query": "httpx streaming timeout"}),
    "read_code": ("read_file", {"path": "src/client.py"}),
    "write_patch": ("apply_patch", {"file": "src/client.py", "hunks": 2}),
    "run_tests": ("run_command", {"cmd": "pytest -q tests/test_client.py"}),
    "summarize": (None, {}),
}
PROGRESS_MESSAGES = ["thinking", "collecting context", "calling a tool", "reading results",
                     "drafting", "checking the output", "almost done"]
FAILURES = [("TOOL_TIMEOUT", "tool call timed out after 30s"),
            ("RATE_LIMITED", "model rate limit exceeded (429)"),
            ("CONTEXT_OVERFLOW", "context window exceeded: 131072 tokens")]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def progress_steps(rng: random.Random) -> Iterator[Step]:
    """Agent runs forever: RUN_STARTED, steps with progress and tool calls, then
    RUN_FINISHED or RUN_ERROR."""
    while True:
        thread_id, run_id = f"thread-{_hex(rng, 6)}", f"run-{_hex(rng, 8)}"
        yield rng.uniform(1.0, 3.0), "RUN_STARTED", {"threadId": thread_id, "runId": run_id}
        names = ["plan", *rng.sample(list(STEPS)[1:-1], rng.randint(2, 4)), "summarize"]
        fail_at = rng.randrange(len(names)) if rng.random() < 0.2 else None
        for index, name in enumerate(names):
            failed = yield from _step(rng, run_id, name, fails=index == fail_at)
            if failed:
                break
        else:
            yield 0.3, "RUN_FINISHED", {"threadId": thread_id, "runId": run_id,
                                        "result": {"steps": len(names)}}


def _step(rng: random.Random, run_id: str, name: str, fails: bool) -> Generator[Step, None, bool]:
    """One step with an optional tool call and progress; returns True when the run failed in it."""
    ids = {"runId": run_id, "stepName": name}
    yield 0.3, "STEP_STARTED", ids
    tool, args = STEPS[name]
    if tool is not None:
        call_id = f"call-{_hex(rng, 8)}"
        yield 0.2, "TOOL_CALL_START", {**ids, "toolCallId": call_id, "toolCallName": tool}
        text = wire.to_json(args)
        cut = rng.randint(1, len(text) - 1)
        for delta in (text[:cut], text[cut:]):
            yield 0.1, "TOOL_CALL_ARGS", {"toolCallId": call_id, "delta": delta}
        yield 0.2, "TOOL_CALL_END", {"toolCallId": call_id}
        yield 0.4, "TOOL_CALL_RESULT", {"toolCallId": call_id, "role": "tool",
                                        "content": f"{tool}: ok ({rng.randint(1, 40)} items)"}
    percent = 0
    while percent < 100:
        percent = min(100, percent + rng.randint(10, 40))
        yield rng.uniform(0.2, 0.8), "STEP_PROGRESS", {
            **ids, "percent": percent, "message": rng.choice(PROGRESS_MESSAGES)}
        if fails and percent >= 50:
            code, message = rng.choice(FAILURES)
            yield 0.2, "RUN_ERROR", {"runId": run_id, "code": code, "message": message}
            return True
    yield 0.2, "STEP_FINISHED", ids
    return False


LOGGERS = ["api.http", "agent.planner", "agent.tools", "db.pool", "worker.queue", "auth"]
INFO = ["GET /v1/runs/{n} 200 in {ms}ms", "tool {tool} returned {n} items",
        "cache hit for key session:{n}", "enqueued job {n} (queue depth {d})",
        "planner chose step {step}", "connection pool size {d}/20"]
WARNINGS = ["slow query: {ms}ms on runs_by_user", "retrying tool {tool} (attempt {d}/10)",
            "token budget at {d}0%"]
ERRORS = [("TimeoutError", "upstream model did not answer in 30s", "agent/llm.py", "complete"),
          ("KeyError", "'session_id'", "api/handlers.py", "get_run"),
          ("ConnectionResetError", "[Errno 104] Connection reset by peer", "db/pool.py", "acquire")]


def log_steps(rng: random.Random) -> Iterator[Step]:
    """Log records in short traces: mostly INFO, some WARNING, rare ERROR with a traceback."""
    while True:
        trace_id = _hex(rng, 32)
        for _ in range(rng.randint(2, 6)):
            roll = rng.random()
            fields = {"n": rng.randint(1, 9999), "ms": rng.randint(3, 2500), "d": rng.randint(1, 9),
                      "tool": rng.choice(["web_search", "read_file", "run_command"]),
                      "step": rng.choice(list(STEPS))}
            record: dict[str, Any] = {"level": "INFO", "logger": rng.choice(LOGGERS),
                                      "trace_id": trace_id, "span_id": _hex(rng, 16)}
            if roll < 0.05:
                kind, text, path, func = rng.choice(ERRORS)
                record.update(level="ERROR", message=f"{func} failed: {kind}: {text}",
                              traceback="Traceback (most recent call last):\n"
                              f'  File "{path}", line {rng.randint(20, 400)}, in {func}\n'
                              f"{kind}: {text}")
            elif roll < 0.15:
                record.update(level="WARNING", message=rng.choice(WARNINGS).format(**fields))
            else:
                record.update(level=rng.choice(["INFO"] * 5 + ["DEBUG"]),
                              message=rng.choice(INFO).format(**fields))
            yield rng.expovariate(4.0), "log", record


SENTENCES = [
    "Server-Sent Events keep one HTTP response open and push text frames as they happen.",
    "Each frame carries an id, so a client that drops can ask to resume where it stopped.",
    "The backlog holds the newest events of every topic, and older ones fall off the end.",
    "When a resume point is gone, the server says so with a gap event instead of staying silent.",
    "Heartbeats prove the connection is alive even when the agent has nothing to say.",
    "I checked the configuration, and the timeout is set to thirty seconds.",
    "Let me look at the failing test before changing anything else.",
    "The patch touches two functions and keeps the public interface unchanged.",
    "All forty-two tests pass, and the linter reports no new warnings.",
    "A slow reader should never make the server hold unbounded memory.",
    "First, I will list the files in the repository to get an overview.",
    "The error comes from a missing key in the session dictionary.",
    "Retrying with exponential back-off avoids hammering a server that is already struggling.",
    "Here is a short summary of what changed and why.",
]


def _tokens(text: str, rng: random.Random) -> Iterator[str]:
    """Word-sized pieces with their leading space; long words sometimes split in two."""
    for index, word in enumerate(text.split(" ")):
        piece = word if index == 0 else f" {word}"
        if len(piece) > 7 and rng.random() < 0.5:
            cut = rng.randint(3, len(piece) - 3)
            yield piece[:cut]
            piece = piece[cut:]
        yield piece


def token_steps(rng: random.Random) -> Iterator[Step]:
    """Assistant messages: TEXT_MESSAGE_START, many small CONTENT deltas, END with usage."""
    while True:
        message_id = f"msg-{_hex(rng, 8)}"
        yield rng.uniform(1.0, 3.0), "TEXT_MESSAGE_START", {"messageId": message_id,
                                                             "role": "assistant"}
        text = " ".join(rng.sample(SENTENCES, rng.randint(2, 5)))
        count = 0
        for index, delta in enumerate(_tokens(text, rng)):
            count += 1
            first = index == 0
            delay = rng.uniform(0.3, 0.9) if first else rng.uniform(0.02, 0.07)
            if not first and rng.random() < 0.03:
                delay += rng.uniform(0.2, 0.5)  # the model stalls now and then
            yield delay, "TEXT_MESSAGE_CONTENT", {"messageId": message_id, "delta": delta}
        usage = {"input_tokens": rng.randint(200, 4000), "output_tokens": count}
        yield 0.05, "TEXT_MESSAGE_END", {"messageId": message_id, "usage": usage}


SIMULATORS: dict[str, Callable[[random.Random], Iterator[Step]]] = {
    "progress": progress_steps,
    "logs": log_steps,
    "tokens": token_steps,
}


def steps_for(topic: str, seed: int) -> Iterator[Step]:
    """The step sequence of one simulated topic; the same seed gives the same sequence."""
    return SIMULATORS[topic](random.Random(f"{seed}:{topic}"))


def _stamp(data: dict[str, Any], now: float) -> dict[str, Any]:
    stamped = {**data, "ts": round(now, 6)}
    if "level" in data:  # log records carry a readable timestamp too
        stamped["timestamp"] = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
    return stamped


async def run_simulator(publish: Publish, topic: str, seed: int, speed: float) -> None:
    """Publish a simulator's steps forever, on a schedule that does not drift."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    for delay, event, data in steps_for(topic, seed):
        due += delay / speed
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        await publish(topic, event, wire.to_json(_stamp(data, time.time())))


async def paced_batches(rate: float) -> AsyncIterator[range]:
    """The numbers 1, 2, 3, ... at `rate` a second, as the range of those due at each loop tick:
    high rates go out in batches and stay exact."""
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while True:
        due = int((loop.time() - start) * rate)
        if due > sent:
            yield range(sent + 1, due + 1)
            sent = due
        # Sleep until the next one is due, but at least ~1 ms: high rates go out in batches.
        await asyncio.sleep(max(start + (sent + 1) / rate - loop.time(), 0.001))


async def run_ticker(publish_many: PublishMany, rate: float, topic: str = "ticker") -> None:
    """`rate` events/s of {"seq", "ts_ns"}: the load generator of `--ticker`.

    Each tick's events go in one call, so a shared backend costs one round trip a tick, not one
    an event (which held a Redis-backed ticker to a fraction of its rate).
    """
    async for batch in paced_batches(rate):
        for first in range(batch.start, batch.stop, MAX_TICKER_BATCH):
            now = time.time_ns()
            await publish_many(topic, [
                ("tick", wire.to_json({"seq": seq, "ts_ns": now}))
                for seq in range(first, min(first + MAX_TICKER_BATCH, batch.stop))])
