"""`sse-monitor --plain` against a hostile server and a malicious recording: the bytes it writes
to stdout and stderr carry no escape, no C1 control and no raw bidi control; the escapes show."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from monitor.client.events import Event, State, StateChange
from monitor.recording.format import Recorder, StreamKey
from tests.client.rawserver import RawServer, respond, stream
from tests.hardening.hostile_text import (
    HOSTILE,
    OSC_TITLE,
    SHOWN,
    error_response,
    frames,
    raw_controls,
)
from tests.servers import ROOT

pytestmark = pytest.mark.anyio


async def plain(*args: str) -> tuple[str, str]:
    """stdout and stderr of a real `python -m monitor --plain` process, decoded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args, "--plain", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return out.decode(), err.decode()


async def hostile_run(*args: str) -> tuple[str, str]:
    """The hostile frames, then a 410 with a hostile body, which ends the run in error (a 404
    after a live stream would be a topic gone for a while, waited for)."""
    async with RawServer([stream(frames()), respond(error_response("410 Gone"))]) as server:
        return await plain(server.url, "--topic", f"t{OSC_TITLE}", *args)


async def test_text_output_and_state_lines_show_every_escape() -> None:
    out, err = await hostile_run()
    assert "Traceback" not in err, err
    assert raw_controls(out) == [] and raw_controls(err) == []
    for escape in SHOWN:
        assert escape in out, out
    assert "evil\\x1b]0;pwned\\x07" in out and "id=id\\x1b[2J\\x1b[H\\u202e" in out  # type and id
    assert "GAP evicted\\x1b]0;pwned\\x07" in out and "resume_from=from\\u202e" in out
    assert "[t\\x1b]0;pwned\\x07] error: 410 Gone" in err  # topic and the quoted body
    assert "no such stream \\x1b]0;pwned\\x07" in err


async def test_jsonl_is_one_line_per_record_with_the_data_unchanged() -> None:
    out, err = await hostile_run("--format", "jsonl")
    assert raw_controls(out) == [] and raw_controls(err) == []
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["event"] for row in rows] == [f"evil{OSC_TITLE}", "log", "gap"]
    assert rows[0]["data"] == HOSTILE  # escaped on the line, exactly the same value
    assert rows[2]["gap"]["resume_from"] == "from\u202e"
    assert "\\u009b31m" in out and "\\u202e" in out and "\\u2028" in out


async def test_a_malicious_recording_replays_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil.jsonl"
    stream_key = StreamKey(f"http://127.0.0.1:1/stream?x={OSC_TITLE}", f"t{OSC_TITLE}")
    with Recorder(path, clock=lambda: 1.0) as recorder:
        recorder.write(stream_key, StateChange(State.LIVE, 1.0))
        recorder.write(stream_key, Event(f"evil{OSC_TITLE}", HOSTILE, f"id{OSC_TITLE}", 1.0))
        recorder.write(stream_key, StateChange(State.ERROR, 1.0, f"gone {HOSTILE}"))
    assert HOSTILE in json.loads(path.read_text().split("\n")[2])["data"]  # kept as received
    out, err = await plain("--replay", str(path), "--speed", "0")
    assert raw_controls(out) == [] and raw_controls(err) == []
    assert "t\\x1b]0;pwned\\x07 evil\\x1b]0;pwned\\x07 id=id\\x1b]0;pwned\\x07" in out
    assert "error: gone \\x1b]0;pwned" in err
