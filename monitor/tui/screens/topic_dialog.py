"""Choose a topic: from the server's `GET /topics` when it answers, or typed (also a URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from monitor.client.topics import TopicList
from monitor.tui.render.entries import shown

TopicLoader = Callable[[], Awaitable[TopicList]]


def describe_topic(topic: dict[str, Any]) -> str:
    """`logs  logs · newest 3f9a01c2-57 · 2 subscribers` from one `GET /topics` entry."""
    details = [str(topic["kind"])] if topic.get("kind") else []
    if topic.get("newest_id"):
        details.append(f"newest {topic['newest_id']}")
    if topic.get("subscribers") is not None:
        count = topic["subscribers"]
        details.append(f"{count} subscriber{'' if count == 1 else 's'}")
    return f"{topic.get('name', '?'):<12} " + " · ".join(details)


class TopicDialog(ModalScreen[str | None]):
    """Returns the chosen or typed topic (or URL), or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="dialog-cancel")]

    def __init__(self, title: str, load: TopicLoader, current: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.load = load
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(shown(self.title_text), classes="dialog-title")
            yield Input(placeholder="topic name or http(s):// URL, Enter to choose")
            yield OptionList()
            yield Label("loading topics from the server…", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._load_topics()

    @work(exclusive=True)
    async def _load_topics(self) -> None:
        found = await self.load()
        topics = found.rows
        options = self.query_one(OptionList)
        options.add_options(
            Option(shown(describe_topic(topic)), id=str(topic["name"]))
            for topic in topics if topic.get("name")
        )
        hint = self.query_one(".dialog-hint", Label)
        if topics:
            more = f" · {found.left_out:,} more not listed: type one" if found.left_out else ""
            hint.update(f"↓ to pick from the list{more} · Esc cancels")
            if self.current in {str(t.get("name")) for t in topics}:
                options.highlighted = options.get_option_index(self.current)
        else:
            hint.update("no topic list from this server: type a topic · Esc cancels")

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(value)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def key_down(self) -> None:
        if self.query_one(Input).has_focus:
            self.query_one(OptionList).focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
