"""The spec's event-stream parsing rules, as a table, fed in every chunking we can think of."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from monitor.client.sse import EventStreamParser, StreamLimitError

BOM = "\ufeff".encode()


def parse(chunks: Iterable[bytes], parser: EventStreamParser | None = None) -> list[tuple]:
    parser = parser or EventStreamParser()
    return [(e.type, e.data, e.id) for chunk in chunks for e in parser.feed(chunk)]


def chunkings(stream: bytes) -> Iterator[list[bytes]]:
    """The whole stream, byte by byte, and split in two at every position."""
    yield [stream]
    yield [stream[i : i + 1] for i in range(len(stream))]
    for cut in range(1, len(stream)):
        yield [stream[:cut], stream[cut:]]


M = "message"

SPEC_TABLE = [
    # line endings
    pytest.param(b"data: a\n\n", [(M, "a", "")], id="lf"),
    pytest.param(b"data: a\r\r", [(M, "a", "")], id="cr"),
    pytest.param(b"data: a\r\n\r\n", [(M, "a", "")], id="crlf"),
    pytest.param(b"data: a\rdata: b\ndata: c\r\n\n", [(M, "a\nb\nc", "")], id="mixed-endings"),
    pytest.param(b"data: a\n\r\n\r", [(M, "a", "")], id="blank-lines-after-event"),
    # byte order mark and encoding
    pytest.param(BOM + b"data: a\n\n", [(M, "a", "")], id="leading-bom-stripped"),
    pytest.param(BOM + BOM + b"data: a\n\ndata: b\n\n", [(M, "b", "")], id="only-one-bom-stripped"),
    pytest.param(b"data: a\n\n" + BOM + b"data: b\n\n", [(M, "a", "")], id="later-bom-kept"),
    pytest.param("data: é€😀\n\n".encode(), [(M, "é€😀", "")], id="utf8-multibyte"),
    pytest.param(b"data: a\xffb\xc3\n\n", [(M, "a\ufffdb\ufffd", "")], id="invalid-utf8-replaced"),
    # comments and fields
    pytest.param(b": hello\ndata: a\n\n", [(M, "a", "")], id="comment-line"),
    pytest.param(b": only a comment\n\n", [], id="comment-block-no-dispatch"),
    pytest.param(b"data\n\n", [(M, "", "")], id="field-without-colon"),
    pytest.param(b"data\ndata\n\n", [(M, "\n", "")], id="two-empty-data-fields"),
    pytest.param(b"data:\n\n", [(M, "", "")], id="empty-data"),
    pytest.param(b"data: a\ndata:\n\n", [(M, "a\n", "")], id="trailing-empty-data-line"),
    pytest.param(b"data:a\n\n", [(M, "a", "")], id="no-space-after-colon"),
    pytest.param(b"data:  a \n\n", [(M, " a ", "")], id="only-one-leading-space-stripped"),
    pytest.param(b"data: a: b\n\n", [(M, "a: b", "")], id="colon-in-value"),
    pytest.param(b"Data: a\n\ndata : b\n\n", [], id="field-names-exact"),
    pytest.param(b"foo: bar\ndata: a\n\n", [(M, "a", "")], id="unknown-field-ignored"),
    # event type
    pytest.param(b"event: add\ndata: 1\n\n", [("add", "1", "")], id="event-type"),
    pytest.param(b"event: add\ndata: 1\n\ndata: 2\n\n", [("add", "1", ""), (M, "2", "")],
                 id="event-type-reset-after-dispatch"),
    pytest.param(b"event: x\n\ndata: 2\n\n", [(M, "2", "")], id="event-only-block-no-dispatch"),
    pytest.param(b"event\ndata: 1\n\n", [(M, "1", "")], id="empty-event-type-is-message"),
    # ids
    pytest.param(b"id: 7\n\ndata: a\n\n", [(M, "a", "7")], id="id-only-block-sets-last-id"),
    pytest.param(b"id: 1\ndata: a\n\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")],
                 id="id-persists"),
    pytest.param(b"id: 1\ndata: a\n\nid\ndata: b\n\n", [(M, "a", "1"), (M, "b", "")],
                 id="empty-id-resets"),
    pytest.param(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", [(M, "a", "1"), (M, "b", "1")],
                 id="id-with-nul-ignored"),
    pytest.param("id: é\ndata: a\n\n".encode(), [(M, "a", "é")], id="non-ascii-id"),
    # retry fields never dispatch on their own
    pytest.param(b"retry: 1500\n\n", [], id="retry-only-block-no-dispatch"),
    pytest.param(b"retry: 10\ndata: a\n\n", [(M, "a", "")], id="retry-with-data"),
    # end of stream
    pytest.param(b"data: a\n\ndata: b\n", [(M, "a", "")], id="unterminated-event-discarded"),
    pytest.param(b"data: a\n\ndata: b", [(M, "a", "")], id="unterminated-line-discarded"),
]


@pytest.mark.parametrize(("stream", "expected"), SPEC_TABLE)
def test_spec_table_in_every_chunking(stream: bytes, expected: list[tuple]) -> None:
    for chunks in chunkings(stream):
        assert parse(chunks) == expected, chunks


@pytest.mark.parametrize(
    ("field", "retry"),
    [
        (b"retry: 1500", 1500),
        (b"retry:0", 0),
        (b"retry: +5", None),
        (b"retry: -1", None),
        (b"retry: 1_000", None),
        (b"retry: 1.5", None),
        (b"retry:  5", None),  # the second space is part of the value
        (b"retry: 5 ", None),
        ("retry: \uff15".encode(), None),  # a digit, but not an ASCII digit
        (b"retry:", None),
        (b"retry", None),
        (b"retries: 5", None),  # another field that begins with the same letters
    ],
)
def test_retry_only_ascii_digits(field: bytes, retry: int | None) -> None:
    parser = EventStreamParser()
    for chunks in chunkings(field + b"\ndata: x\n\n"):
        parser = EventStreamParser()
        events = [e for chunk in chunks for e in parser.feed(chunk)]
        assert parser.retry == retry
        assert events[0].retry == retry


def test_retry_applies_without_dispatch_and_keeps_newest() -> None:
    parser = EventStreamParser()
    assert parser.feed(b"retry: 100\n\nretry: 250\nretry: x\n") == []
    assert parser.retry == 250


def test_last_id_updates_only_at_blank_line() -> None:
    parser = EventStreamParser()
    parser.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert parser.last_event_id == "1"  # the second block never completed
    parser.feed(b"\n")
    assert parser.last_event_id == "2"


def test_last_id_carried_into_next_connection() -> None:
    parser = EventStreamParser(last_event_id="41")
    assert parse([b"data: a\n\n"], parser) == [(M, "a", "41")]
    assert parser.last_event_id == "41"


def test_cr_at_chunk_end_dispatches_without_waiting() -> None:
    parser = EventStreamParser()
    assert parse([b"data: a\n\r"], parser) == [(M, "a", "")]


def test_lf_after_cr_in_next_chunk_completes_crlf() -> None:
    parser = EventStreamParser()
    assert parse([b"data: a\r"], parser) == []
    # Were the LF taken as a blank line, "a" would be dispatched on its own.
    assert parse([b"\ndata: b\r", b"\n\r", b"\n"], parser) == [(M, "a\nb", "")]


def test_raw_block_text_kept_with_comments() -> None:
    parser = EventStreamParser()
    (event,) = parser.feed(b": note\r\nid: 3\r\nevent: add\r\ndata: {}\r\n\r\n")
    assert event.raw == ": note\nid: 3\nevent: add\ndata: {}"
    assert (event.type, event.data, event.id) == ("add", "{}", "3")


def test_very_long_line_within_cap() -> None:
    payload = b"x" * 300_000
    stream = b"data: " + payload + b"\n\n"
    chunks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    assert parse(chunks) == [(M, payload.decode(), "")]


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_line_cap_raises_before_the_line_ends(chunk_size: int) -> None:
    parser = EventStreamParser(max_line_bytes=100)
    stream = b"data: " + b"x" * 1000  # never terminated: memory must stay bounded anyway
    with pytest.raises(StreamLimitError, match="max_line_bytes"):
        for i in range(0, len(stream), chunk_size):
            parser.feed(stream[i : i + chunk_size])


def test_line_cap_counts_utf8_bytes() -> None:
    parser = EventStreamParser(max_line_bytes=10)
    parser.feed(b"data: ab\n")  # 8 bytes: fine
    with pytest.raises(StreamLimitError):
        parser.feed("data: ééé\n".encode())  # 9 characters, but 12 bytes


def test_event_cap_raises() -> None:
    parser = EventStreamParser(max_line_bytes=100, max_event_bytes=1000)
    with pytest.raises(StreamLimitError, match="max_event_bytes"):
        for _ in range(200):
            parser.feed(b"data: 0123456789\n")


def test_event_cap_resets_per_event() -> None:
    parser = EventStreamParser(max_event_bytes=100)
    for _ in range(50):
        assert len(parser.feed(b"data: 0123456789\n: comment\n\n")) == 1
