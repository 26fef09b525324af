"""What the app and its stream process send each other: length-prefixed marshal frames.

marshal, not pickle: both ends are the same interpreter, and it builds nothing but plain values.
"""

from __future__ import annotations

import asyncio
import marshal
import struct
from dataclasses import fields
from operator import attrgetter
from typing import Any

from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.stream import StreamConfig

_HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 2**20  # far above any batch: a larger length means the pipe is corrupt

_CLASSES: tuple[type[Any], ...] = (Event, Heartbeat, Gap, StateChange)
_TAGS = {cls: tag for tag, cls in enumerate(_CLASSES)}
_GETTERS = {cls: attrgetter(*cls.__slots__) for cls in _CLASSES}
_STATE_TAG = _TAGS[StateChange]
_EVENT_TAG = _TAGS[Event]
_PARSED = Event.__slots__.index("parsed")
# Where each timed item's `received` sits in its encoded tuple (after the tag)
_RECEIVED = {_TAGS[cls]: cls.__slots__.index("received") + 1 for cls in (Event, Heartbeat, Gap)}
_CONFIG_FIELDS = tuple(f.name for f in fields(StreamConfig) if f.name != "clock")


Encoded = tuple[Any, ...]  # an item as plain values: its class's tag, then its fields


class FrameError(Exception):
    """The pipe carried something that is not a frame: the other process is broken."""


def pack(message: Any) -> bytes:
    """One frame: the marshalled message after its length."""
    payload = marshal.dumps(message)
    return _HEADER.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> Any | None:
    """The next message, or None when the pipe closed cleanly between frames."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("pipe closed inside a frame header") from None
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes announced (limit {MAX_FRAME})")
    try:
        return marshal.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        raise FrameError("pipe closed inside a frame") from None
    except (ValueError, EOFError, TypeError) as exc:
        raise FrameError(f"unreadable frame: {exc}") from None


def encode_item(item: StreamItem) -> Encoded:
    """An item as a tuple of plain values: its class's tag, then its fields in order (an Event's
    data parsed as JSON, so the app need not)."""
    cls = type(item)
    values = _GETTERS[cls](item)
    if cls is StateChange:  # marshal takes only exact str, not the StrEnum
        return (_STATE_TAG, str(values[0]), *values[1:])
    if cls is Event:  # its JSON parsed here, in the stream process: the app's loop is the scarcer
        return (_EVENT_TAG, *values[:_PARSED], item.json(), *values[_PARSED + 1:])
    return (_TAGS[cls], *values)


def decode_item(values: Encoded, received: float | None = None) -> StreamItem:
    """The item `encode_item` gave `values` for; with `received`, received then instead."""
    tag = values[0]
    if tag == _STATE_TAG:
        return StateChange(State(values[1]), *values[2:])
    if received is not None:
        at = _RECEIVED[tag]
        return _CLASSES[tag](*values[1:at], received, *values[at + 1:])
    return _CLASSES[tag](*values[1:])


def encode_config(config: StreamConfig) -> dict[str, Any]:
    """A config's fields but its clock (the stream process reads the wall clock)."""
    return {name: getattr(config, name) for name in _CONFIG_FIELDS}


def decode_config(values: dict[str, Any]) -> StreamConfig:
    return StreamConfig(**values)
