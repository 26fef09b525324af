"""A small, spec-faithful event-stream parser (WHATWG HTML, "Server-sent events" 9.2.6),
used by tests to check what servers send. Deliberately independent of monitor/ code.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    type: str
    data: str
    last_event_id: str
    has_id: bool  # the block itself had a valid `id` field
    raw: str  # the block's lines, joined with "\n"


class ReferenceParser:
    """Feed bytes, get dispatched events; `retry` holds the last valid reconnection time."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._bom_checked = False
        self._after_cr = False  # the previous chunk ended with CR: a following LF is part of it
        self.data = ""
        self.event_type = ""
        self.last_event_id = ""
        self._id_buffer = ""
        self._block_has_id = False
        self._block_lines: list[str] = []
        self.retry: int | None = None
        self.retries: list[int] = []

    def feed(self, chunk: bytes) -> list[ParsedEvent]:
        text = self._decoder.decode(chunk)
        if not self._bom_checked and text:
            self._bom_checked = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = False
        self._buffer += text
        events: list[ParsedEvent] = []
        while True:
            cut = _first_break(self._buffer)
            if cut is None:
                return events
            index, width = cut
            if width == 1 and self._buffer[index] == "\r" and index == len(self._buffer) - 1:
                self._after_cr = True  # may be the first half of a CRLF split across chunks
            line, self._buffer = self._buffer[:index], self._buffer[index + width:]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> ParsedEvent | None:
        if line == "":
            return self._dispatch()
        self._block_lines.append(line)
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self.event_type = value
        elif name == "data":
            self.data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
                self._block_has_id = True
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
            self.retries.append(self.retry)
        return None

    def _dispatch(self) -> ParsedEvent | None:
        self.last_event_id = self._id_buffer
        raw, has_id = "\n".join(self._block_lines), self._block_has_id
        self._block_lines, self._block_has_id = [], False
        if self.data == "":
            self.event_type = ""
            return None
        data = self.data.removesuffix("\n")
        event = ParsedEvent(self.event_type or "message", data, self.last_event_id, has_id, raw)
        self.data, self.event_type = "", ""
        return event


def _first_break(text: str) -> tuple[int, int] | None:
    """(index, width) of the first CRLF, CR or LF."""
    match = _LINE_BREAK.search(text)
    return (match.start(), len(match[0])) if match else None


def parse(stream: bytes) -> list[ParsedEvent]:
    """Every event of a complete stream (an unterminated last block is dropped, per spec)."""
    return ReferenceParser().feed(stream)
