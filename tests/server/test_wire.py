"""The encoder, checked with the WHATWG reference parser; ids and the memory backend's replay."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import wire
from server.backends.memory import MemoryBackend
from tests.sse_reference import ReferenceParser, parse


def test_frame_round_trips_through_the_reference_parser() -> None:
    frame = wire.encode_frame("TEXT_MESSAGE_CONTENT", '{"delta": "hi"}', "0a1b2c3d-7")
    assert frame == b'id: 0a1b2c3d-7\nevent: TEXT_MESSAGE_CONTENT\ndata: {"delta": "hi"}\n\n'
    [event] = parse(frame)
    assert (event.type, event.data, event.last_event_id, event.has_id) == (
        "TEXT_MESSAGE_CONTENT", '{"delta": "hi"}', "0a1b2c3d-7", True)


@pytest.mark.parametrize(("data", "expected"), [
    ("one\ntwo", "one\ntwo"),
    ("one\rtwo", "one\ntwo"),
    ("one\r\ntwo", "one\ntwo"),
    ("\n\nmiddle\r\r\n", "\n\nmiddle\n\n"),
    ("", ""),
    (" leading space", " leading space"),
    (": looks like a comment", ": looks like a comment"),
])
def test_data_with_line_breaks_survives_as_lf(data: str, expected: str) -> None:
    [event] = parse(wire.encode_frame("note", data))
    assert event.data == expected
    assert not event.has_id


UTF8_TEXT = st.characters(blacklist_categories=("Cs",))  # lone surrogates cannot be UTF-8


@given(st.text(UTF8_TEXT),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
               min_size=1))
def test_any_data_and_event_name_parse_back(data: str, event: str) -> None:
    parsed = parse(wire.encode_frame(event, data, "00000000-1"))
    assert [(e.type, e.data) for e in parsed] == [(event, data.replace("\r\n", "\n")
                                                   .replace("\r", "\n"))]


def test_frames_split_anywhere_parse_the_same() -> None:
    stream = wire.encode_retry(1500) + b"".join(
        wire.encode_frame("e", f"line {n}\r\nmore", f"0a1b2c3d-{n}") for n in range(1, 4))
    whole = [(e.type, e.data, e.last_event_id) for e in parse(stream)]
    for cut in range(1, len(stream)):
        parser = ReferenceParser()
        pieces = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert [(e.type, e.data, e.last_event_id) for e in pieces] == whole
        assert parser.retry == 1500


def test_line_breaks_in_names_and_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        wire.encode_frame("a\nb", "x")
    with pytest.raises(ValueError):
        wire.encode_frame("a", "x", "1\r2")


def test_retry_block_dispatches_nothing() -> None:
    parser = ReferenceParser()
    assert parser.feed(wire.encode_retry(2500)) == []
    assert parser.retry == 2500


@pytest.mark.parametrize(("text", "parsed"), [
    ("0a1b2c3d-42", ("0a1b2c3d", 42)),
    ("0a1b2c3d-0", ("0a1b2c3d", 0)),
    ("0A1B2C3D-42", None),
    ("0a1b2c3d-042", None),
    ("0a1b2c3-42", None),
    ("0a1b2c3d-", None),
    ("garbage", None),
    ("", None),
])
def test_parse_id(text: str, parsed: tuple[str, int] | None) -> None:
    assert wire.parse_id(text) == parsed


@pytest.mark.parametrize(("name", "valid"), [
    ("logs", True), ("a", True), ("agent-1.run_2", True), ("x" * 64, True), ("x" * 65, False),
    ("-lead", False), (".hidden", False), ("has space", False), ("slash/no", False), ("", False),
])
def test_topic_pattern(name: str, valid: bool) -> None:
    assert wire.is_valid_topic(name) is valid


@pytest.mark.anyio
async def test_gap_on_an_empty_backlog_resumes_at_the_newest_id() -> None:
    backend = MemoryBackend(backlog=3)
    replay = await backend.replay("empty", "garbage")
    assert replay.entries == []
    assert replay.gap is not None
    assert replay.gap.resume_from is None
    assert replay.gap.resume_point.endswith("-0")
    # resuming from the gap's own id is then no gap at all
    assert (await backend.replay("empty", replay.gap.resume_point)).gap is None


def test_lone_surrogates_in_json_stay_escaped() -> None:
    data = wire.to_json({"text": "\ud800 and é"})
    assert data == '{"text": "\\ud800 and \\u00e9"}'
    [event] = parse(wire.encode_frame("note", data))
    assert event.data == data
