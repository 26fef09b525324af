"""Recordings: every item of every stream in a versioned JSON Lines file, written and read back.

The first line is a header (format name, version, creation time, tool version); each further line
is one item of one stream. The format is documented in README.md ("Record and replay").
No Textual, no httpx: the plain mode, the TUI and the replay server share this.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any, NamedTuple

from monitor.client import safejson
from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem
from monitor.client.redaction import redact

FORMAT = "sse-monitor-recording"
VERSION = 1
KINDS = ("event", "heartbeat", "gap", "state")
# Room for an event at the stream's 16 MiB caps: its data and its raw frame, JSON-escaped.
MAX_LINE_BYTES = 64 * 2**20
# New files only, never through a symbolic link; an existing one is opened apart, see _open_file.
_CREATE = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_EXISTING = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_SYMLINK = "is a symbolic link; a recording never follows one"


class RecordingError(Exception):
    """A recording cannot be written or read; the message says where and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class StreamKey:
    """Which stream an item came from: its URL, its topic when topics are used, and the pane
    that showed it when several may show one stream (the TUI's recordings)."""

    url: str
    topic: str | None = None
    pane: int | None = None

    @property
    def any_pane(self) -> StreamKey:
        """The stream alone, whichever pane showed it."""
        return StreamKey(self.url, self.topic) if self.pane is not None else self


class Recorded(NamedTuple):
    """One item read back from a recording, with the stream it belongs to."""

    stream: StreamKey
    item: StreamItem


def one_pane_each(entries: list[Recorded]) -> list[Recorded]:
    """Each stream's items once: those of the first pane that showed it, keyed without a pane.

    Two panes on one stream record every event twice; a reader that serves or prints streams,
    not panes, keeps one copy.
    """
    first_pane: dict[StreamKey, int | None] = {}
    kept = []
    for stream, item in entries:
        whole = stream.any_pane
        if first_pane.setdefault(whole, stream.pane) == stream.pane:
            kept.append(Recorded(whole, item))
    return kept


def tool_version() -> str:
    """`sse-monitor X.Y.Z`, as written in headers."""
    try:
        return f"sse-monitor {metadata.version('sse-monitor')}"
    except metadata.PackageNotFoundError:
        return "sse-monitor (not installed)"


def recording_name(now: float) -> str:
    """A file name for a recording started at `now`: `sse-monitor-20251124-160000.jsonl` (UTC)."""
    return datetime.fromtimestamp(now, UTC).strftime("sse-monitor-%Y%m%d-%H%M%S.jsonl")


def item_time(item: StreamItem) -> float:
    """The wall-clock time an item arrived (or a state changed)."""
    return item.at if isinstance(item, StateChange) else item.received


def encode_item(stream: StreamKey, item: StreamItem) -> dict[str, Any]:
    """The JSON object of one recording line."""
    # Recordings get shared: credentials in the URL are masked like on screen.
    line: dict[str, Any] = {"url": redact(stream.url), "topic": stream.topic,
                            "time": item_time(item)}
    if stream.pane is not None:
        line["pane"] = stream.pane
    match item:
        case Event():
            line.update(kind="event", event=item.type, data=item.data, id=item.id)
            if item.retry is not None:
                line["retry"] = item.retry
        case Heartbeat():
            line.update(kind="heartbeat", data=item.data)
        case Gap():
            line.update(
                kind="gap", requested=item.requested, reason=item.reason, detail=item.detail,
                resume_from=item.resume_from, missed=item.missed, id=item.id, data=item.data,
            )
        case StateChange():
            line.update(
                kind="state", state=item.state.value, reason=item.reason, attempt=item.attempt,
                delay=item.delay, status=item.status,
            )
    if not isinstance(item, StateChange) and item.raw:
        line["raw"] = item.raw  # the frame as received, for the raw view
    return line


def _dumps(obj: dict[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: \u-escape it rather than lose the line
        text = json.dumps(obj, separators=(",", ":"))
    return text + "\n"


class Recorder:
    """Appends items to a recording, one flushed line each, so a crash loses at most the last.

    Every failure raises `RecordingError` and closes the recorder; the caller reports it and
    goes on monitoring without recording.
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        """Start a recording at `path`; refuse to overwrite one unless `append` continues it.

        Never through a symbolic link; a device or a pipe is written to.
        """
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._panes: dict[int, int] = {}  # a pane's own id -> its number in this file
        self._file, has_content = _open_file(self.path, append)
        if not has_content:
            header = {"format": FORMAT, "version": VERSION, "created": clock(),
                      "tool": tool_version()}
            self._write(_dumps(header))

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, stream: StreamKey, item: StreamItem) -> None:
        """Append one item and flush it to the operating system.

        A stream's `pane` may be any id; the file numbers panes 1, 2, ... as they first appear.
        A line longer than MAX_LINE_BYTES goes without its raw frame, so that it can be read back.
        """
        if stream.pane is not None:
            number = self._panes.setdefault(stream.pane, len(self._panes) + 1)
            stream = StreamKey(stream.url, stream.topic, number)
        fields = encode_item(stream, item)
        line = _dumps(fields)
        if _too_long(line) and fields.pop("raw", None) is not None:
            line = _dumps(fields)
        if _too_long(line):
            self.close()
            raise RecordingError(self.path, f"an item longer than {_mib(MAX_LINE_BYTES)} cannot "
                                            "be recorded")
        self._write(line)

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # every line was flushed already: nothing is lost
                file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, line: str) -> None:
        if self._file is None:
            raise RecordingError(self.path, "recording is closed")
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # the write error above is the one to report
                file.close()
            raise RecordingError(self.path, f"cannot write: {exc.strerror or exc}") from None


def _too_long(line: str) -> bool:
    # Characters first: a UTF-8 byte count is needed only for lines that might be too long.
    return len(line) > MAX_LINE_BYTES // 4 and len(line.encode("utf-8")) > MAX_LINE_BYTES


def _mib(size: int) -> str:
    return f"{size // 2**20} MiB"


def _open_file(path: Path, append: bool) -> tuple[IO[str], bool]:
    """The file to record into, and whether it already holds a recording to append to.

    A new file is created with O_EXCL | O_NOFOLLOW; an existing one is opened with O_NOFOLLOW and
    judged by what the descriptor is, so nothing swapped in between is overwritten or followed.
    """
    try:
        fd = os.open(path, _CREATE, 0o666)
    except FileExistsError:
        if path.is_symlink():
            raise RecordingError(path, _SYMLINK) from None
        fd = _open_existing(path, append)
    except OSError as exc:
        raise RecordingError(path, f"cannot write: {exc.strerror or exc}") from None
    has_content = False
    try:
        info = os.fstat(fd)
        has_content = stat.S_ISREG(info.st_mode) and info.st_size > 0
        if has_content:
            _check_appendable(path)
        return os.fdopen(fd, "a", encoding="utf-8"), has_content
    except BaseException:
        os.close(fd)
        raise


def _open_existing(path: Path, append: bool) -> int:
    try:
        fd = os.open(path, _EXISTING)
    except OSError as exc:
        reason = _SYMLINK if exc.errno == errno.ELOOP else f"cannot write: {exc.strerror or exc}"
        raise RecordingError(path, reason) from None
    if stat.S_ISREG(os.fstat(fd).st_mode) and not append:
        os.close(fd)
        raise RecordingError(path, "file exists; choose another name or remove it first")
    return fd


def _check_appendable(path: Path) -> None:
    """Appending needs a readable header and a last line that ended (not a truncated one)."""
    with _open_for_reading(path) as file:
        _check_header(path, _read_line(path, file, 1))
        file.seek(-1, os.SEEK_END)
        if file.read(1) != b"\n":
            raise RecordingError(path, "last line is truncated; cannot append to it")


def _open_for_reading(path: str | os.PathLike[str]) -> IO[bytes]:
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise RecordingError(path, f"cannot read: {exc.strerror or exc}") from None


def read_recording(path: str | os.PathLike[str]) -> Iterator[Recorded]:
    """Every item of a recording, in order, with its original times.

    Raises `RecordingError` (with the line number) at the first line it cannot read.
    """
    with _open_for_reading(path) as file:
        _check_header(path, _read_line(path, file, 1))
        for number in itertools.count(2):
            raw = _read_line(path, file, number)
            if not raw:
                return
            if raw.strip():
                yield _parse_line(path, number, raw)


def _read_line(path: str | os.PathLike[str], file: IO[bytes], number: int) -> bytes:
    """The next line (b"" at the end), never more than MAX_LINE_BYTES of it in memory."""
    raw = file.readline(MAX_LINE_BYTES + 1)
    if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
        raise RecordingError(path, f"line longer than {_mib(MAX_LINE_BYTES)}", number)
    return raw


def load_recording(path: str | os.PathLike[str]) -> tuple[list[Recorded], RecordingError | None]:
    """Every item that could be read, and the error that stopped reading there, if any.

    A recording cut short by a crash still replays up to the line it broke on.
    """
    entries: list[Recorded] = []
    try:
        entries.extend(read_recording(path))
    except RecordingError as exc:
        return entries, exc
    return entries, None


def _load_json(path: str | os.PathLike[str], number: int, raw: bytes) -> Any:
    try:
        return safejson.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordingError(path, f"not UTF-8 (byte {exc.start + 1})", number) from None
    except ValueError as exc:
        if not raw.endswith(b"\n"):
            reason = "truncated: the file ends in the middle of this line (recorder killed?)"
            raise RecordingError(path, reason, number) from None
        raise RecordingError(path, f"not valid JSON: {exc}", number) from None


def _check_header(path: str | os.PathLike[str], raw: bytes) -> None:
    """A header this version reads, or `RecordingError` saying what is wrong with line 1."""
    if not raw:
        raise RecordingError(path, "empty file: not a recording (no header line)", 1)
    header = _load_json(path, 1, raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        reason = f'not a recording: the first line must be a header with "format": "{FORMAT}"'
        raise RecordingError(path, reason, 1)
    version = header.get("version")
    if not _is_integer(version) or version < 1:
        raise RecordingError(path, f"bad header: version must be a positive integer, "
                                   f"not {version!r}", 1)
    if version > VERSION:
        raise RecordingError(path, f"recording format version {version} is newer than this "
                                   f"sse-monitor reads (version {VERSION}); upgrade it", 1)
    if not _is_number(header.get("created")):
        raise RecordingError(path, "bad header: created must be a number (epoch seconds)", 1)


def _is_number(value: Any) -> bool:
    """A finite JSON number (Python's json also reads NaN and Infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Fields:
    """Typed access to one line's fields; a wrong or missing one names itself in the error."""

    def __init__(self, path: str | os.PathLike[str], number: int, obj: dict[str, Any]) -> None:
        self.path, self.line, self.obj = path, number, obj

    def _get(self, name: str, check: Callable[[Any], bool], what: str, optional: bool) -> Any:
        if name not in self.obj and not optional:
            reason = f"missing field {name!r} in this {self.obj['kind']} line"
            raise RecordingError(self.path, reason, self.line)
        value = self.obj.get(name)
        if (value is not None or not optional) and not check(value):
            reason = f"field {name!r} must be {what}, not {json.dumps(value)}"
            raise RecordingError(self.path, reason, self.line)
        return value

    def text(self, name: str) -> str:
        return self._get(name, _is_text, "a string", False)

    def optional_text(self, name: str) -> str | None:
        return self._get(name, _is_text, "a string or null", True)

    def optional_integer(self, name: str) -> int | None:
        return self._get(name, _is_integer, "an integer or null", True)

    def number(self, name: str) -> float:
        return float(self._get(name, _is_number, "a number", False))


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_line(path: str | os.PathLike[str], number: int, raw: bytes) -> Recorded:
    obj = _load_json(path, number, raw)
    if not isinstance(obj, dict):
        raise RecordingError(path, "a line must be a JSON object", number)
    kind = obj.get("kind")
    if kind not in KINDS:
        raise RecordingError(path, f"unknown kind {json.dumps(kind)} (expected one of "
                                   f"{', '.join(KINDS)})", number)
    f = _Fields(path, number, obj)
    stream = StreamKey(url=f.text("url"), topic=f.optional_text("topic"),
                       pane=f.optional_integer("pane"))
    at = f.number("time")
    frame = f.optional_text("raw") or ""
    item: StreamItem
    if kind == "event":
        item = Event(type=f.text("event"), data=f.text("data"), id=f.text("id"), received=at,
                     raw=frame, retry=f.optional_integer("retry"))
    elif kind == "heartbeat":
        data = f.text("data")
        item = Heartbeat(data=data, received=at, info=_json_object(data), raw=frame)
    elif kind == "gap":
        item = Gap(
            requested=f.optional_text("requested"), reason=f.text("reason"),
            detail=f.text("detail"), resume_from=f.optional_text("resume_from"),
            missed=f.optional_integer("missed"), received=at, id=f.optional_text("id") or "",
            data=f.optional_text("data") or "", raw=frame,
        )
    else:
        name = f.text("state")
        states = [state.value for state in State]
        if name not in states:
            raise RecordingError(path, f"unknown state {json.dumps(name)} (expected one of "
                                       f"{', '.join(states)})", number)
        item = StateChange(
            state=State(name), at=at, reason=f.optional_text("reason") or "",
            attempt=f.optional_integer("attempt") or 0,
            delay=f.number("delay") if "delay" in obj else 0.0,
            status=f.optional_integer("status"),
        )
    return Recorded(stream, item)


def _json_object(data: str) -> dict[str, Any]:
    """A heartbeat's parsed JSON object, as the client gives it (empty when not an object)."""
    try:
        value = safejson.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
