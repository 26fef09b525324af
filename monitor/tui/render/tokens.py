"""Token streams assembled into messages: AG-UI, OpenAI Chat Completions and Responses, Anthropic.

Each format is told apart by event type and JSON shape; deltas update an open message in the
live area, and the finished message (with its token usage) becomes one entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from monitor.client.events import Event
from monitor.client.sanitize import visible
from monitor.tui.render.entries import LINE_CHARS, Entry, Rendered, append_shown, first, shown

MAX_OPEN = 8  # messages that never end must not grow the live area without bound
LIVE_TAIL_CHARS = 2000  # only the end of a very long open message is drawn live
MAX_MESSAGE_CHARS = 200_000  # a message that never ends keeps its newest characters only
MESSAGE_LINES = MAX_MESSAGE_CHARS // LINE_CHARS + 1  # a finished message draws what it keeps
JOIN_PARTS = 64  # deltas kept apart before they are joined: one string, not a str per token
DONE = "[DONE]"


@dataclass
class Message:
    key: str
    role: str = "assistant"
    parts: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    dropped: int = 0  # characters of its beginning not kept (past MAX_MESSAGE_CHARS)

    def add(self, delta: str) -> None:
        """Append a delta; the deltas are joined into one string every JOIN_PARTS of them."""
        self.parts.append(delta)
        if len(self.parts) >= JOIN_PARTS:
            self._join()

    def replace(self, text: str) -> None:
        """The whole text at once (a format's final `done` event)."""
        self.parts, self.dropped = [text], 0

    @property
    def text(self) -> str:
        """The message so far: its newest MAX_MESSAGE_CHARS characters."""
        self._join()
        return self.parts[0] if self.parts else ""

    def _join(self) -> None:
        text = "".join(self.parts)
        if len(text) > MAX_MESSAGE_CHARS:
            self.dropped += len(text) - MAX_MESSAGE_CHARS
            text = text[-MAX_MESSAGE_CHARS:]
        self.parts = [text]

    def render(self, open_: bool) -> Text:
        body = self.text
        if open_ and len(body) > LIVE_TAIL_CHARS:
            body = "…" + body[-LIVE_TAIL_CHARS:]
        elif self.dropped:
            body = f"… ({self.dropped:,} characters not kept) " + body
        out = Text()
        append_shown(out, f"{self.role} ▸ ", "bold magenta")
        # Open, the tail is the bound: the live panel shows its newest lines
        append_shown(out, body, max_lines=LIVE_TAIL_CHARS if open_ else MESSAGE_LINES)
        if open_:
            out.append("▌", style="magenta")
        if self.usage:
            out.append("\n")
            out.append(usage_text(self.usage), style="dim")
        return out


def usage_text(usage: dict[str, Any]) -> str:
    """`usage: in 12 · out 345 · total 357 tokens` from any of the vendors' field names."""
    names = (
        ("in", ("prompt_tokens", "input_tokens", "promptTokens", "inputTokens")),
        ("out", ("completion_tokens", "output_tokens", "completionTokens", "outputTokens")),
        ("total", ("total_tokens", "totalTokens")),
    )
    parts = [f"{short} {first(usage, *keys)}" for short, keys in names
             if first(usage, *keys) is not None]
    return visible("usage: " + (" · ".join(parts) if parts else str(usage)) + " tokens")


class TokenRenderer:
    """Open messages keyed by their id in each format; closed ones become entries."""

    def __init__(self) -> None:
        self.open: dict[str, Message] = {}

    def clear(self) -> None:
        self.open.clear()

    def interrupt(self, why: str) -> list[Entry]:
        """Close every open message as interrupted (no more of it will come): what it had."""
        entries = []
        for message in self.open.values():
            text = message.render(open_=False)
            append_shown(text, f"\n⚠ message interrupted: {why}", "yellow")
            entries.append(Entry(text, text.plain))
        self.clear()
        return entries

    def handle(self, event: Event, payload: Any, name: str) -> Rendered | None:
        if event.data.strip() == DONE:  # OpenAI's end-of-stream sentinel
            return self._close_all("■ [DONE]")
        if not isinstance(payload, dict):
            return None
        if name.startswith("TEXT_MESSAGE_"):
            return self._ag_ui(name, payload)
        if payload.get("object") == "chat.completion.chunk" or _chat_chunk(payload):
            return self._chat(payload)
        if name.startswith("response."):
            return self._responses(name, payload)
        if name in ANTHROPIC:
            return self._anthropic(name, payload)
        return None

    def _message(self, key: str, role: str | None = None) -> Message:
        if key not in self.open:
            if len(self.open) >= MAX_OPEN:
                self.open.pop(next(iter(self.open)))
            self.open[key] = Message(key)
        if role:
            self.open[key].role = role
        return self.open[key]

    def _close(self, key: str, usage: dict[str, Any] | None = None) -> Rendered:
        message = self.open.pop(key, None) or Message(key)
        if usage:
            message.usage = usage
        text = message.render(open_=False)
        return Rendered([Entry(text, text.plain)], live_changed=True)

    def _close_all(self, note: str) -> Rendered:
        done = Rendered(live_changed=True)
        for key in list(self.open):
            done.entries += self._close(key).entries
        done.entries.append(Entry(Text(note, style="dim"), note))
        return done

    def _ag_ui(self, name: str, payload: dict[str, Any]) -> Rendered:
        key = str(first(payload, "messageId", "message_id", default="message"))
        if name == "TEXT_MESSAGE_END":
            return self._close(key, first(payload, "usage"))
        message = self._message(key, first(payload, "role"))
        delta = first(payload, "delta", "content")
        if isinstance(delta, str):
            message.add(delta)
        return Rendered(live_changed=True)

    def _chat(self, payload: dict[str, Any]) -> Rendered:
        key = "chat:" + str(payload.get("id", ""))
        choices = payload.get("choices") or []
        usage = payload.get("usage")
        if not choices:  # the usage-only chunk that ends a stream with include_usage
            if not usage:
                return Rendered()
            return self._close(key, usage) if key in self.open else Rendered([_usage_entry(usage)])
        choice = choices[0]
        delta = choice.get("delta") or {}
        message = self._message(key, delta.get("role"))
        if isinstance(delta.get("content"), str):
            message.add(delta["content"])
        if choice.get("finish_reason"):
            return self._close(key, usage)
        return Rendered(live_changed=True)

    def _responses(self, name: str, payload: dict[str, Any]) -> Rendered:
        key = "resp:" + str(first(payload, "item_id", default=""))
        if name == "response.output_text.delta":
            self._message(key).add(str(payload.get("delta", "")))
            return Rendered(live_changed=True)
        if name == "response.output_text.done":
            message = self._message(key)
            if isinstance(payload.get("text"), str):
                message.replace(payload["text"])
            return self._close(key)
        response = payload.get("response") or {}
        if name == "response.completed":  # closes what output_text.done did not
            done = Rendered(live_changed=True)
            for open_key in [k for k in self.open if k.startswith("resp:")]:
                done.entries += self._close(open_key).entries
            if response.get("usage"):
                done.entries.append(_usage_entry(response["usage"]))
            return done
        if name in ("response.failed", "response.error"):
            error = response.get("error") or payload.get("error") or payload
            text = shown(f"✘ {name}: {error}", "red")
            return Rendered([Entry(text, text.plain)])
        return Rendered()  # the many lifecycle events of a response: visible in the raw view

    def _anthropic(self, name: str, payload: dict[str, Any]) -> Rendered:
        current = next(reversed(self.open), None) if self.open else None
        if name == "message_start":
            message_info = payload.get("message") or {}
            key = "anthropic:" + str(message_info.get("id", ""))
            message = self._message(key, message_info.get("role"))
            message.usage = dict(message_info.get("usage") or {})
            return Rendered(live_changed=True)
        key = current or "anthropic:"
        if name == "content_block_delta":
            delta = payload.get("delta") or {}
            text = first(delta, "text", "thinking")
            if isinstance(text, str):
                self._message(key).add(text)
            return Rendered(live_changed=True)
        if name == "message_delta":
            self._message(key).usage.update(payload.get("usage") or {})
            return Rendered()
        if name == "message_stop":
            return self._close(key)
        return Rendered()  # ping, content_block_start/stop: nothing to draw

    def live(self) -> list[RenderableType]:
        return [message.render(open_=True) for message in self.open.values()]


ANTHROPIC = {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
             "message_delta", "message_stop", "ping"}


def _chat_chunk(payload: dict[str, Any]) -> bool:
    choices = payload.get("choices")
    return isinstance(choices, list) and bool(choices) and isinstance(choices[0], dict) and (
        "delta" in choices[0])


def _usage_entry(usage: dict[str, Any]) -> Entry:
    text = Text(usage_text(usage), style="dim")
    return Entry(text, text.plain)
