"""Structured log records: level-coloured lines with logger and message, tracebacks readable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from monitor.client.events import Event
from monitor.tui.render.entries import Entry, Rendered, append_shown, first

LEVEL_STYLES = {
    "TRACE": "dim",
    "DEBUG": "dim",
    "INFO": "green",
    "NOTICE": "cyan",
    "WARN": "yellow",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
    "FATAL": "bold white on red",
}
TRACEBACK_KEYS = ("traceback", "exc_info", "exception", "stack", "stack_trace")


def is_log(payload: Any) -> bool:
    """A JSON object with a level and a message, whatever the logging library called them."""
    return (
        isinstance(payload, dict)
        and isinstance(first(payload, "level", "levelname", "severity"), str)
        and first(payload, "message", "msg") is not None
    )


def clock_time(value: Any) -> str:
    """HH:MM:SS of an epoch number (UTC) or an ISO timestamp string; '' when neither."""
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S")
        except (OverflowError, ValueError, OSError):  # no date: a year past 9999, NaN
            return ""
    if isinstance(value, str) and "T" in value:
        return value.split("T", 1)[1][:8]
    return ""


class LogRenderer:
    """Stateless: one log record becomes one line, plus its traceback when it has one."""

    def handle(self, event: Event, payload: Any) -> Rendered | None:
        if not is_log(payload):
            return None
        return Rendered([Entry.lazy(log_line, payload)])

    def live(self) -> list[Any]:
        return []


def log_line(payload: dict[str, Any]) -> Text:
    """`HH:MM:SS LEVEL   logger: message  trace=…`, and the traceback below it if any."""
    level = str(first(payload, "level", "levelname", "severity")).upper()
    style = LEVEL_STYLES.get(level, "")
    line = Text()
    stamp = clock_time(first(payload, "timestamp", "ts", "time", "asctime"))
    if stamp:
        append_shown(line, f"{stamp} ", "dim")
    append_shown(line, f"{level:<7}", style)
    logger = first(payload, "logger", "name", "logger_name")
    if logger:
        append_shown(line, f" {logger}", "blue")
    line.append(": ")
    append_shown(line, str(first(payload, "message", "msg")), "red" if "ERR" in level else "")
    trace = first(payload, "trace_id", "traceId")
    if trace:
        append_shown(line, f"  trace={str(trace)[:8]}", "dim")
    traceback = first(payload, *TRACEBACK_KEYS)
    if isinstance(traceback, list):
        traceback = "\n".join(map(str, traceback))
    if isinstance(traceback, str) and traceback.strip():
        line.append("\n")
        append_shown(line, _indent(traceback.rstrip()), "red dim")
    return line


def _indent(text: str) -> str:
    return "\n".join("    " + row for row in text.splitlines())
