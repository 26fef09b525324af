"""Hostile recordings and hostile paths: a huge line, deep JSON, symbolic links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.client.events import Event, Heartbeat
from monitor.recording.format import (
    MAX_LINE_BYTES,
    Recorder,
    RecordingError,
    StreamKey,
    load_recording,
    read_recording,
)
from tests.servers import ROOT

HEADER = {"format": "sse-monitor-recording", "version": 1, "created": 1.0, "tool": "t"}
EVENT = {"url": "http://h/s", "topic": None, "time": 2.0, "kind": "event", "event": "m",
         "data": "hello", "id": "1"}
HUGE = 2**30  # a sparse gigabyte with no line break: nothing on the disk, much in memory
DEEP = 100_000
STREAM = StreamKey("http://h/s")


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_lines(path: Path, *lines: str, huge: bool = False) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    if huge:
        with path.open("r+b") as file:
            file.truncate(path.stat().st_size + HUGE)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_a_huge_line_is_a_line_numbered_error_read_in_bounded_memory(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "run.jsonl", json.dumps(HEADER), json.dumps(EVENT), huge=True)
    before = rss_bytes()
    entries, error = load_recording(path)
    grown = rss_bytes() - before
    print(f"RSS grew by {grown / 2**20:.0f} MiB reading a {HUGE / 2**30:.0f} GiB line")
    assert [entry.item.data for entry in entries] == ["hello"]
    assert str(error) == f"{path}:3: line longer than 64 MiB"
    assert grown < 2 * MAX_LINE_BYTES


def test_the_monitor_replays_up_to_a_huge_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "run.jsonl", json.dumps(HEADER), json.dumps(EVENT), huge=True)
    done = run("-m", "monitor", "--replay", str(path), "--plain", "--format", "jsonl",
               "--speed", "0")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["data"] == "hello"
    assert done.stderr == (f"sse-monitor: {path}:3: line longer than 64 MiB; replaying the 1 "
                           "items before it\n")


def test_the_demo_server_refuses_a_recording_with_a_huge_first_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "run.jsonl", json.dumps(HEADER), huge=True)
    done = run("-m", "server", "--port", "0", "--replay", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (f"sse-demo-server: cannot replay: {path}:2: line longer "
                                   "than 64 MiB")


def test_a_huge_header_line_is_refused_too(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "run.jsonl", huge=True)
    with pytest.raises(RecordingError, match=r":1: line longer than 64 MiB"):
        list(read_recording(path))


def test_deep_json_in_a_recording_is_a_line_numbered_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "run.jsonl", json.dumps(HEADER), json.dumps(EVENT),
                       "[" * DEEP + "]" * DEEP)
    entries, error = load_recording(path)
    assert len(entries) == 1
    assert error is not None and error.line == 3 and "nested deeper than" in error.reason


def test_a_recorded_heartbeat_with_deep_json_reads_back(tmp_path: Path) -> None:
    deep = "[" * DEEP + "]" * DEEP
    beat = {"url": "http://h/s", "topic": None, "time": 2.0, "kind": "heartbeat", "data": deep}
    path = write_lines(tmp_path / "run.jsonl", json.dumps(HEADER), json.dumps(beat))
    [entry] = read_recording(path)
    assert entry.item == Heartbeat(deep, 2.0, {})


def test_a_dangling_symlink_is_not_followed(tmp_path: Path) -> None:
    link, target = tmp_path / "run.jsonl", tmp_path / "elsewhere.jsonl"
    link.symlink_to(target)
    with pytest.raises(RecordingError, match="is a symbolic link"):
        Recorder(link)
    assert not target.exists()


def test_the_monitor_refuses_to_record_through_a_dangling_symlink(tmp_path: Path) -> None:
    link, target = tmp_path / "run.jsonl", tmp_path / "elsewhere.jsonl"
    link.symlink_to(target)
    done = run("-m", "monitor", "http://127.0.0.1:9/stream", "--plain", "--record", str(link))
    assert done.returncode == 1
    assert done.stderr == (f"sse-monitor: cannot record: {link}: is a symbolic link; a "
                           "recording never follows one\n")
    assert not target.exists()


def test_appending_never_follows_a_symlink(tmp_path: Path) -> None:
    target = write_lines(tmp_path / "real.jsonl", json.dumps(HEADER))
    link = tmp_path / "run.jsonl"
    link.symlink_to(target)
    with pytest.raises(RecordingError, match="is a symbolic link"):
        Recorder(link, append=True)
    assert target.read_text() == json.dumps(HEADER) + "\n"


def test_an_existing_empty_file_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.touch()
    with pytest.raises(RecordingError, match="file exists"):
        Recorder(path)
    assert path.read_bytes() == b""


def test_a_line_too_long_to_read_back_is_written_without_its_raw_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.recording.format.MAX_LINE_BYTES", 4096)
    path = tmp_path / "run.jsonl"
    event = Event("m", "d" * 3000, "1", 2.0, raw="data: " + "d" * 3000)
    small = Event("m", "small", "2", 3.0, raw="data: small")
    with Recorder(path) as recorder:
        recorder.write(STREAM, event)
        recorder.write(STREAM, small)
        with pytest.raises(RecordingError, match="an item longer than"):
            recorder.write(STREAM, Event("m", "d" * 5000, "3", 4.0))
        assert recorder.closed
    assert [entry.item for entry in read_recording(path)] == [
        Event("m", "d" * 3000, "1", 2.0), small]
