"""The recording format: round trip of every item kind, append/flush rules, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange
from monitor.recording.format import (
    FORMAT,
    VERSION,
    Recorder,
    RecordingError,
    StreamKey,
    one_pane_each,
    read_recording,
)

LOGS = StreamKey("http://127.0.0.1:8000/stream", "logs")
PLAIN = StreamKey("https://example.com/sse?x=1")

ITEMS = [
    (LOGS, StateChange(State.CONNECTING, at=100.0)),
    (LOGS, StateChange(State.LIVE, at=100.1, status=200)),
    (LOGS, Event("log", '{"level": "info", "msg": "hé ✓"}', "ab12cd34-1", 100.2, retry=1500)),
    (PLAIN, Event("message", "line one\nline two\r\n  spaced", "", 100.25,
                  raw="data: line one\ndata:line two\r\ndata:   spaced\n: comment")),
    (LOGS, Heartbeat('{"time": 100.3, "topic": "logs"}', 100.3, {"time": 100.3, "topic": "logs"})),
    (PLAIN, Heartbeat("not json", 100.35, raw="event: heartbeat\ndata: not json")),
    (LOGS, StateChange(State.RECONNECTING, at=101.0, reason="server closed the connection",
                       attempt=2, delay=3.5)),
    (LOGS, Gap(requested="ab12cd34-1", reason="other-run", detail="id of an earlier run",
               resume_from="ef56ab78-1", missed=None, received=102.0, id="ef56ab78-0",
               data='{"topic": "logs", "reason": "other-run"}')),
    (LOGS, Gap(requested=None, reason="evicted", detail="", resume_from=None, missed=45,
               received=102.1)),
    (PLAIN, StateChange(State.ERROR, at=103.0, reason="404 Not Found", status=404)),
    (PLAIN, StateChange(State.STOPPED, at=104.0, reason="204 No Content")),
]


def record(path: Path, items=ITEMS, **kwargs) -> None:
    with Recorder(path, **kwargs) as recorder:
        for stream, item in items:
            recorder.write(stream, item)


def test_every_item_kind_round_trips_with_its_stream_and_time(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path)
    assert [(entry.stream, entry.item) for entry in read_recording(path)] == ITEMS


def test_header_names_format_version_creation_time_and_tool(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path, clock=lambda: 1764000000.5)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["format"] == FORMAT
    assert first["version"] == VERSION
    assert first["created"] == 1764000000.5
    assert first["tool"].startswith("sse-monitor")


def test_lines_are_documented_json_objects(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path, items=ITEMS[2:4])
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert lines[0] == {
        "url": LOGS.url, "topic": "logs", "time": 100.2, "kind": "event", "event": "log",
        "data": '{"level": "info", "msg": "hé ✓"}', "id": "ab12cd34-1", "retry": 1500,
    }
    assert "retry" not in lines[1] and lines[1]["topic"] is None


def test_each_line_reaches_the_file_before_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    recorder = Recorder(path)
    recorder.write(*ITEMS[2])
    # Read while the recorder is still open: a crash now would keep this event.
    assert [entry.item for entry in read_recording(path)] == [ITEMS[2][1]]
    recorder.close()


@given(st.text(), st.text())
def test_any_data_and_id_survive_exactly(data: str, event_id: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run.jsonl"
        event = Event("message", data, event_id, 1.0)
        record(path, items=[(PLAIN, event)])
        assert [entry.item for entry in read_recording(path)] == [event]


def test_an_existing_recording_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path)
    with pytest.raises(RecordingError, match="file exists"):
        Recorder(path)
    assert len(list(read_recording(path))) == len(ITEMS)


def test_append_continues_a_recording_under_its_header(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path, items=ITEMS[:3])
    record(path, items=ITEMS[3:], append=True)
    assert [(entry.stream, entry.item) for entry in read_recording(path)] == ITEMS
    assert path.read_text(encoding="utf-8").count(FORMAT) == 1


def test_append_refuses_a_truncated_recording(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(RecordingError, match="truncated"):
        Recorder(path, append=True)


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot write: No such file or directory") as err:
        Recorder(tmp_path / "missing-dir" / "run.jsonl")
    assert str(err.value).startswith(str(tmp_path / "missing-dir" / "run.jsonl"))


def test_a_full_disk_is_a_clear_error_and_closes_the_recorder() -> None:
    # /dev/full fails every write with ENOSPC: the fault, for real.
    with pytest.raises(RecordingError, match="No space left on device"):
        Recorder("/dev/full")


def test_a_write_error_after_start_closes_the_recorder(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    recorder = Recorder(path)
    recorder._file = open("/dev/full", "a")  # noqa: SIM115 - the disk fills up mid-recording
    with pytest.raises(RecordingError, match="No space left on device"):
        recorder.write(*ITEMS[2])
    assert recorder.closed
    with pytest.raises(RecordingError, match="closed"):
        recorder.write(*ITEMS[2])


def test_a_truncated_last_line_keeps_the_items_before_it(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    record(path)
    path.write_bytes(path.read_bytes()[:-20])
    entries = []
    with pytest.raises(RecordingError) as err:
        entries.extend(read_recording(path))
    assert err.value.line == len(ITEMS) + 1
    assert "truncated" in err.value.reason
    assert [(entry.stream, entry.item) for entry in entries] == ITEMS[:-1]


HEADER = json.dumps({"format": FORMAT, "version": 1, "created": 1.0, "tool": "t"})
EVENT = {"url": "u", "topic": None, "time": 1.0, "kind": "event", "event": "m", "data": "d",
         "id": ""}


def line(**changes: object) -> str:
    obj = {**EVENT, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


@pytest.mark.parametrize(
    ("content", "number", "reason"),
    [
        (b"", 1, "empty file: not a recording"),
        (b'{"hello": 1}\n', 1, 'must be a header with "format": "sse-monitor-recording"'),
        (b"[1, 2]\n", 1, "must be a header"),
        (HEADER.replace('"version": 1', '"version": 2').encode() + b"\n", 1,
         "version 2 is newer than this sse-monitor reads (version 1)"),
        (HEADER.replace('"version": 1', '"version": "1"').encode() + b"\n", 1,
         "version must be a positive integer"),
        (HEADER.replace('"created": 1.0', '"created": null').encode() + b"\n", 1,
         "created must be a number"),
        (f"{HEADER}\n{line()}\n{{oops\n".encode(), 3, "not valid JSON"),
        (f"{HEADER}\n{line(kind='frame')}\n".encode(), 2,
         'unknown kind "frame" (expected one of event, heartbeat, gap, state)'),
        (f"{HEADER}\n{line(kind=...)}\n".encode(), 2, "unknown kind null"),
        (f"{HEADER}\n{line()}\n{line(data=...)}\n".encode(), 3,
         "missing field 'data' in this event line"),
        (f"{HEADER}\n{line(time='noon')}\n".encode(), 2, "field 'time' must be a number"),
        (f"{HEADER}\n{line(time=float('nan'))}\n".encode(), 2, "field 'time' must be a number"),
        (f"{HEADER}\n{line(retry=1.5)}\n".encode(), 2, "field 'retry' must be an integer or null"),
        (f"{HEADER}\n{line(topic=3)}\n".encode(), 2, "field 'topic' must be a string or null"),
        (f"{HEADER}\n{line(kind='state', state='dancing')}\n".encode(), 2,
         'unknown state "dancing" (expected one of connecting, live, reconnecting'),
        (f"{HEADER}\n{line(kind='gap')}\n".encode(), 2, "missing field 'reason' in this gap line"),
        (f"{HEADER}\n[]\n".encode(), 2, "a line must be a JSON object"),
        (f"{HEADER}\n".encode() + b'{"data": "\xff"}\n', 2, "not UTF-8"),
        (f"{HEADER}\n{line()}\n{line()[:-3]}".encode(), 3, "truncated"),
    ],
)
def test_a_bad_file_names_its_line_and_what_is_wrong(
    tmp_path: Path, content: bytes, number: int, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError) as err:
        list(read_recording(path))
    assert err.value.line == number
    assert reason in err.value.reason
    assert str(err.value) == f"{path}:{number}: {err.value.reason}"


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read: No such file or directory"):
        list(read_recording(tmp_path / "nope.jsonl"))


def test_blank_lines_and_unknown_fields_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text(f"{HEADER}\n\n{line(extra={'future': True})}\n", encoding="utf-8")
    assert [entry.item for entry in read_recording(path)] == [Event("m", "d", "", 1.0)]


def test_credentials_in_a_url_are_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    secret = StreamKey("https://bob:hunter2@example.com/sse?topic=a&token=s3cr3t-value", "a")
    record(path, items=[(secret, ITEMS[2][1])])
    text = path.read_text(encoding="utf-8")
    assert "hunter2" not in text and "s3cr3t-value" not in text
    assert next(read_recording(path)).stream.url.startswith("https://bob:")


def test_panes_are_numbered_in_the_file_and_readers_of_streams_keep_one_copy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "panes.jsonl"
    first, second = Event("log", "a", "x-1", 1.0), Event("log", "b", "x-2", 2.0)
    with Recorder(path) as recorder:
        for pane in (907, 12):  # any ids of the recording program's own
            recorder.write(StreamKey(LOGS.url, "logs", pane), first)
        recorder.write(StreamKey(LOGS.url, "logs", 907), second)
        recorder.write(PLAIN, second)  # a stream recorded without panes (the plain mode)
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert [line.get("pane") for line in lines] == [1, 2, 1, None]
    entries = list(read_recording(path))
    assert [entry.stream.pane for entry in entries] == [1, 2, 1, None]
    assert one_pane_each(entries) == [(LOGS, first), (LOGS, second), (PLAIN, second)]


def test_pane_is_the_only_new_field_and_a_wrong_one_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "v1.jsonl"
    with Recorder(path) as recorder:
        recorder.write(StreamKey(LOGS.url, "logs", 5), Event("log", "a", "x-1", 1.0))
    line = json.loads(path.read_text().splitlines()[1])
    assert set(line) - {"pane"} == {"url", "topic", "time", "kind", "event", "data", "id"}
    with pytest.raises(RecordingError, match="'pane' must be an integer or null"):
        path.write_text(path.read_text().replace('"pane":1', '"pane":"one"'))
        list(read_recording(path))
