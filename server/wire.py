"""The bytes on the wire: SSE frame encoding and the `<epoch>-<seq>` event ids.

Pure functions, no I/O: every other server module builds on these.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

ID_PATTERN = re.compile(r"([0-9a-f]{8})-([1-9][0-9]{0,18}|0)")
TOPIC_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RESERVED_EVENTS = frozenset({"gap", "heartbeat"})
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def new_epoch() -> str:
    """A fresh 8-hex-digit run marker for one topic."""
    return secrets.token_hex(4)


def format_id(epoch: str, seq: int) -> str:
    return f"{epoch}-{seq}"


def parse_id(event_id: str) -> tuple[str, int] | None:
    """(epoch, seq) of an id this server makes, or None for anything else."""
    match = ID_PATTERN.fullmatch(event_id)
    return (match[1], int(match[2])) if match else None


def is_valid_topic(name: str) -> bool:
    return TOPIC_PATTERN.fullmatch(name) is not None


def to_json(value: Any) -> str:
    """One line of JSON (json.dumps escapes every line break inside strings)."""
    text = json.dumps(value, ensure_ascii=False)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): keep it escaped
            text = json.dumps(value)
    return text


def encode_frame(event: str, data: str, event_id: str | None = None) -> bytes:
    """One SSE frame. Each line of `data` becomes a `data:` line; CR, LF and CRLF all
    come back as LF, as the event-stream format cannot carry a bare CR."""
    if _has_line_break(event) or (event_id is not None and _has_line_break(event_id)):
        raise ValueError("event names and ids must not contain line breaks")
    if event_id is not None and "\0" in event_id:
        raise ValueError("ids must not contain NUL")  # a parser ignores such an id
    head = f"id: {event_id}\n" if event_id is not None else ""
    if _has_line_break(data):
        lines = "".join(f"data: {line}\n" for line in _LINE_BREAKS.split(data))
    else:  # one line, as JSON always is: this runs for every event published
        lines = f"data: {data}\n"
    return f"{head}event: {event}\n{lines}\n".encode()


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def encode_retry(retry_ms: int) -> bytes:
    """A block that only sets the client's reconnection time (dispatches no event)."""
    return f"retry: {int(retry_ms)}\n\n".encode()
