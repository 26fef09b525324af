"""`sse-demo-server --replay FILE`: a recording served as live topics, read back with the client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange
from monitor.client.stream import SSEStream, StreamConfig, with_topic
from monitor.recording.format import Recorded, Recorder, StreamKey
from server import wire
from server.replay import load_plan, plan_replay
from tests.servers import ROOT, ServerProcess

AGENT = StreamKey("http://agents.example/stream?topic=agent-7", "agent-7")
OPENAI = StreamKey("https://api.example/v1/chat/completions")  # no topic: named from the URL
T0 = 1764000000.0

RECORDED = [
    (AGENT, StateChange(State.LIVE, T0, status=200)),
    (AGENT, Event("RUN_STARTED", '{"runId": "r1", "ts": 1764000000.01}', "x-1", T0 + 0.01)),
    (OPENAI, Event("message", '{"choices": [{"delta": {"content": "Hel"}}]}', "", T0 + 0.02)),
    (AGENT, Heartbeat('{"time": 1764000000.05}', T0 + 0.05)),
    (OPENAI, Event("message", '{"choices": [{"delta": {"content": "lo"}}]}', "", T0 + 0.06)),
    (AGENT, Gap("x-1", "other-run", "new run", "y-1", None, T0 + 0.07)),
    (AGENT, Event("STEP_STARTED", 'multi\nline, not JSON', "y-1", T0 + 0.08)),
    (OPENAI, Event("message", "[DONE]", "", T0 + 0.1)),
    (AGENT, Event("RUN_FINISHED", '{"runId": "r1"}', "y-2", T0 + 0.15)),
]


def expected_events(stream: StreamKey) -> list[tuple[str, str]]:
    return [(item.type, item.data) for key, item in RECORDED
            if key == stream and isinstance(item, Event)]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "agents.jsonl"
    with Recorder(path) as recorder:
        for stream, item in RECORDED:
            recorder.write(stream, item)
    return path


async def read_rounds(url: str, topic: str, expected: list[tuple[str, str]]) -> list[Event]:
    """The topic's events until the last ones are two whole rounds of `expected`.

    (A client that subscribes a little late may see the end of a round first.)
    """
    stream = SSEStream(StreamConfig(url=with_topic(f"{url}/stream", topic), topic=topic))
    events: list[Event] = []
    async for item in stream.items():
        if isinstance(item, Event):
            events.append(item)
            if [(e.type, e.data) for e in events[-2 * len(expected):]] == 2 * expected:
                stream.stop()
        elif isinstance(item, Gap):
            raise AssertionError(f"no gap expected: {item}")
    return events


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_a_recording_is_served_again_with_fresh_ids_round_after_round(
    server_factory: Callable[..., ServerProcess], recording: Path,
) -> None:
    server = server_factory("--replay", str(recording), "--heartbeat", "0.2")
    async with httpx.AsyncClient() as client:
        topics = (await client.get(f"{server.url}/topics")).json()["topics"]
    assert {(t["name"], t["kind"]) for t in topics} == {("agent-7", "replay"),
                                                        ("completions", "replay")}

    # Two rounds: the replay starts once someone watches and starts again after its end.
    agent, openai = await asyncio.wait_for(asyncio.gather(
        read_rounds(server.url, "agent-7", expected_events(AGENT)),
        read_rounds(server.url, "completions", expected_events(OPENAI)),
    ), 20)

    for events in (agent, openai):  # this server's ids: one epoch, seq increasing one by one
        parsed = [wire.parse_id(event.id) for event in events]
        assert all(parsed) and len({epoch for epoch, _ in parsed}) == 1
        first = parsed[0][1]
        assert [seq for _, seq in parsed] == list(range(first, first + len(events)))


def test_no_simulators_run_beside_a_replay(
    server_factory: Callable[..., ServerProcess], recording: Path,
) -> None:
    server = server_factory("--replay", str(recording))
    assert httpx.get(f"{server.url}/stream", params={"topic": "logs"}).status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read: No such file or directory"),
        ("not a recording\n", ":1: not valid JSON"),
        ('{"format": "sse-monitor-recording", "version": 1, "created": 1}\n',
         "the recording holds no events to serve"),
    ],
)
def test_a_bad_recording_stops_the_server_with_a_clear_error(
    tmp_path: Path, content: str | None, message: str,
) -> None:
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0", "--replay", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"sse-demo-server: cannot replay: {path}")
    assert message in done.stderr and "Traceback" not in done.stderr


def test_topics_are_named_after_the_recorded_streams_and_valid() -> None:
    event = Event("m", "{}", "", T0)
    streams = [
        StreamKey("http://a/stream?topic=logs", "logs"),
        StreamKey("http://b/stream?topic=logs", "logs"),  # the same topic on another server
        StreamKey("https://api.example/v1/chat/completions"),
        StreamKey("http://c/events/"),
        StreamKey("http://d/", None),
        StreamKey("http://e/s?topic=a%20b", "agent run #7"),  # not a valid topic name
    ]
    plan = plan_replay([Recorded(stream, event) for stream in streams])
    assert list(plan.topics.values()) == [
        "logs", "logs-2", "completions", "events", "stream", "agent-run-7"]
    assert all(wire.is_valid_topic(name) for name in plan.topics.values())
    assert [topic for topic, _ in plan.events] == list(plan.topics.values())


def test_a_recording_cut_short_is_served_up_to_the_break(recording: Path) -> None:
    recording.write_bytes(recording.read_bytes()[:-10])
    plan = load_plan(str(recording))
    assert [event for _, event in plan.events] == [
        item for _, item in RECORDED[:-1] if isinstance(item, Event)]


def test_replay_flags_are_checked(recording: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server", "--replay", str(recording), "--workers", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2 and "serve a recording from one process" in done.stderr
