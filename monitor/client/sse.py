"""Spec-exact parsing of a `text/event-stream` body, fed incrementally with raw bytes.

Reference: https://html.spec.whatwg.org/multipage/server-sent-events.html
("Parsing an event stream" and "Interpreting an event stream").
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from httpx_sse import ServerSentEvent, SSEError
from httpx_sse._decoders import SSEDecoder

_LINE_END = re.compile(r"\r\n|\r|\n")
DEFAULT_MAX_BYTES = 16 * 2**20
MAX_RETRY_MS = 86_400_000  # a day: a longer reconnection time is clamped to it


class StreamLimitError(SSEError):
    """The server sent a line or an event larger than the configured cap."""


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One dispatched event, before the stream gives it a type of item and a time."""

    type: str  # "message" when the block named none
    data: str
    id: str  # the last event id at dispatch
    raw: str  # the block's lines (comments included), joined with "\n"
    retry: int | None = None  # a valid retry value given in the same block


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class _SpecFieldDecoder(SSEDecoder):
    """httpx-sse's field parser, corrected where 0.4.3 departs from the spec.

    Fixes: no dispatch without a data field, `retry` only when all ASCII digits (and applied at
    once, not at dispatch, clamped to MAX_RETRY_MS), the last event id seeded from the previous
    connection.
    It uses the parent's private buffers, which is why httpx-sse is pinned to 0.4.3.
    """

    def __init__(self, last_event_id: str) -> None:
        super().__init__()
        self._last_event_id = last_event_id
        self.last_event_id = last_event_id  # the spec's lastEventId: set at each blank line
        self.retry: int | None = None  # the newest valid retry value

    def decode(self, line: str) -> ServerSentEvent | None:
        if line.startswith("retry"):  # checked before splitting: this runs for every line
            name, _, value = line.partition(":")
            if name == "retry":
                value = value[1:] if value.startswith(" ") else value
                if value.isascii() and value.isdigit():
                    self.retry = self._retry = _clamped_retry(value)
                return None
        if line:
            return super().decode(line)
        # Blank line: the spec updates lastEventId even when there is nothing to dispatch.
        self.last_event_id = self._last_event_id
        if not self._data:
            self._event, self._retry = "", None
            return None
        return super().decode(line)


def _clamped_retry(digits: str) -> int:
    """A `retry:` value of ASCII digits, at most MAX_RETRY_MS, read without int() of a long
    string (Python refuses more than 4300 digits, and a huge int overflows a float later)."""
    digits = digits.lstrip("0")
    if len(digits) > len(str(MAX_RETRY_MS)):
        return MAX_RETRY_MS
    return min(int(digits or "0"), MAX_RETRY_MS)


class EventStreamParser:
    """Turns the bytes of one connection into events, exactly as the spec's parser does.

    We wrap httpx-sse 0.4.3 because it keeps a leading BOM, decodes with the response charset,
    holds a trailing CR, dispatches data-less blocks, accepts non-digit retry values and forgets
    the last event id on each connection; here the byte layer is ours and its field parser fixed.
    Create one parser per connection, seeded with the last event id of the previous one.
    """

    def __init__(
        self,
        last_event_id: str = "",
        max_line_bytes: int = DEFAULT_MAX_BYTES,
        max_event_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        # utf-8-sig: always UTF-8 whatever the charset says, and one leading BOM dropped.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._fields = _SpecFieldDecoder(last_event_id)
        self._max_line = max_line_bytes
        self._max_event = max_event_bytes
        self._partial: list[str] = []  # the current unterminated line, in pieces
        self._partial_size = 0
        self._skip_lf = False  # the last text ended in CR: a leading LF completes that CRLF
        self._block: list[str] = []  # lines of the current block, for ParsedEvent.raw
        self._block_size = 0

    @property
    def last_event_id(self) -> str:
        """The spec's lastEventId: what to send as Last-Event-ID when reconnecting."""
        return self._fields.last_event_id

    @property
    def retry(self) -> int | None:
        """The newest valid `retry:` value in milliseconds, or None when none came."""
        return self._fields.retry

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        """Parse the next bytes; return the events they complete."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        # A CR ends a line at once; remembering it lets a following LF be swallowed.
        self._skip_lf = text.endswith("\r")
        pieces = text.split("\n") if "\r" not in text else _LINE_END.split(text)
        events: list[ParsedEvent] = []
        for piece in pieces[:-1]:
            if self._partial:  # the line began in an earlier chunk
                self._add_to_line(piece)
                line, size = "".join(self._partial), self._partial_size
                self._partial, self._partial_size = [], 0
            else:  # the usual case, without the list: this runs for every line of every event
                line, size = piece, _utf8_size(piece)
                if size > self._max_line:
                    self._add_to_line(piece)  # raises StreamLimitError
            event = self._end_line(line, size)
            if event is not None:
                events.append(event)
        if pieces[-1]:
            self._add_to_line(pieces[-1])
        return events

    def _add_to_line(self, piece: str) -> None:
        self._partial.append(piece)
        self._partial_size += _utf8_size(piece)
        if self._partial_size > self._max_line:
            raise StreamLimitError(
                f"line longer than the limit of {self._max_line} bytes (max_line_bytes)"
            )

    def _end_line(self, line: str, size: int) -> ParsedEvent | None:
        if line:
            self._block.append(line)
            self._block_size += size + 1
            if self._block_size > self._max_event:
                raise StreamLimitError(
                    f"event larger than the limit of {self._max_event} bytes (max_event_bytes)"
                )
        sse = self._fields.decode(line)
        if line:
            return None
        raw, self._block, self._block_size = "\n".join(self._block), [], 0
        if sse is None:
            return None
        return ParsedEvent(sse.event or "message", sse.data, sse.id, raw, sse.retry)
