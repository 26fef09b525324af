"""`sse-monitor --plain --record` and `--replay`: a live session with a server restart in it,
recorded and replayed into the plain mode, compared line for line."""

from __future__ import annotations

import json
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange
from monitor.recording.format import Recorded, read_recording
from tests.record.sessions import (
    SERVER_ARGS,
    TOPICS,
    monitor,
    record_session_with_restart,
    run_monitor,
)
from tests.servers import ServerProcess


def of_topic(entries: list[Recorded], topic: str, kind: type) -> list:
    return [e.item for e in entries if e.stream.topic == topic and isinstance(e.item, kind)]


@pytest.mark.timeout(60)
def test_a_session_with_a_restart_replays_exactly_as_it_was_printed(
    server_factory: Callable[..., ServerProcess], tmp_path: Path,
) -> None:
    server = server_factory(*SERVER_ARGS)
    path = tmp_path / "session.jsonl"
    live_out, live_err = record_session_with_restart(server, path)

    entries = list(read_recording(path))
    printed = [json.loads(line) for line in live_out]
    for topic in TOPICS:
        states = [change.state for change in of_topic(entries, topic, StateChange)]
        assert states[:2] == [State.CONNECTING, State.LIVE]
        assert State.RECONNECTING in states and states[-1] is State.LIVE
        gaps = of_topic(entries, topic, Gap)
        assert [gap.reason for gap in gaps] == ["other-run"]
        assert of_topic(entries, topic, Heartbeat)
        # What was recorded is exactly what the live run printed for the topic.
        assert [(e.type, e.data, e.id) for e in of_topic(entries, topic, Event)] == [
            (row["event"], row["data"], row["id"]) for row in printed
            if row["topic"] == topic and row["event"] != "gap"
        ]
        assert next(stream.url for stream, _ in entries if stream.topic == topic) == (
            f"{server.url}/stream?topic={topic}"
        )

    replay = run_monitor("--replay", str(path), "--plain", "--format", "jsonl", "--speed", "0")
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.splitlines() == [line.rstrip("\n") for line in live_out]
    assert replay.stderr.splitlines() == live_err.splitlines()

    text = run_monitor("--replay", str(path), "--plain", "--speed", "0", "--max-events", "3")
    assert text.returncode == 0
    assert len(text.stdout.splitlines()) == 3 and " id=" in text.stdout


def test_a_recording_cut_short_replays_up_to_the_break_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    header = {"format": "sse-monitor-recording", "version": 1, "created": 1.0, "tool": "t"}
    event = {"url": "http://h/s", "topic": None, "time": 2.0, "kind": "event", "event": "m",
             "data": "hello", "id": "1"}
    path.write_text(f"{json.dumps(header)}\n{json.dumps(event)}\n{json.dumps(event)[:30]}")
    done = run_monitor("--replay", str(path), "--plain", "--format", "jsonl", "--speed", "0")
    assert done.returncode == 1
    assert json.loads(done.stdout)["data"] == "hello"
    assert done.stderr.splitlines()[0] == (
        f"sse-monitor: {path}:3: truncated: the file ends in the middle of this line "
        "(recorder killed?); replaying the 1 items before it"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", ":1: empty file: not a recording (no header line)"),
        ("hello\n", ":1: not valid JSON"),
        ('{"format": "sse-monitor-recording", "version": 9, "created": 1}\n',
         ":1: recording format version 9 is newer"),
    ],
)
def test_a_file_that_is_not_a_recording_is_refused_clearly(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    for mode in (("--plain",), ()):  # the TUI says it before it starts
        done = run_monitor("--replay", str(path), *mode)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"sse-monitor: cannot replay: {path}{reason}")
        assert "Traceback" not in done.stderr


def test_replay_and_record_flags_are_checked(tmp_path: Path) -> None:
    done = run_monitor("--replay", "x.jsonl", "--topic", "logs", "--plain")
    assert done.returncode == 2 and "--replay shows a recording" in done.stderr
    done = run_monitor("--plain", "--speed", "2")
    assert done.returncode == 2 and "--speed paces a --replay" in done.stderr
    done = run_monitor("--replay", "x.jsonl", "--speed", "fast")
    assert done.returncode == 2 and "not a number: 'fast'" in done.stderr
    done = run_monitor("--replay", str(tmp_path / "none.jsonl"), "--plain")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("none.jsonl: cannot read: No such file or directory")


def test_recording_never_overwrites_a_file(demo_server: ServerProcess, tmp_path: Path) -> None:
    path = tmp_path / "taken.jsonl"
    path.write_text("precious\n")
    done = run_monitor(f"{demo_server.url}/stream", "--plain", "--record", str(path))
    assert done.returncode == 1
    assert done.stderr == f"sse-monitor: cannot record: {path}: file exists; choose another " \
                          "name or remove it first\n"
    assert path.read_text() == "precious\n"


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))


@pytest.mark.timeout(30)
def test_a_recording_that_cannot_be_written_stops_but_the_monitor_goes_on(
    demo_server: ServerProcess, tmp_path: Path,
) -> None:
    path = tmp_path / "full.jsonl"
    proc = monitor(f"{demo_server.url}/stream", "--topic", "logs", "--plain", "--format", "jsonl",
                   "--record", str(path), "--max-events", "40", preexec_fn=_limit_file_size)
    out, err = proc.communicate(timeout=25)
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 40  # every event still printed
    stopped = [line for line in err.splitlines() if "recording stopped" in line]
    assert stopped == [f"sse-monitor: recording stopped: {path}: cannot write: File too large"]
    assert path.stat().st_size <= 3000
