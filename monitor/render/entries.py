"""A rendered line (or block) of a pane, and the small helpers every renderer shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import RenderableType
from rich.text import Text


class Entry:
    """One finished item of a pane's history: what is drawn and the text a filter matches.

    `Entry.lazy` builds its Text on first use: at thousands of events a second most entries
    scroll past unseen, and building them was most of the cost of a fast stream.
    """

    __slots__ = ("_built", "_make", "_source", "kind")

    def __init__(self, renderable: RenderableType, plain: str, kind: str = "event") -> None:
        self._built: tuple[RenderableType, str] | None = (renderable, plain)
        self._make: Callable[[Any], Text] | None = None
        self._source: Any = None
        self.kind = kind  # event, gap, state, raw: lets the view style or skip whole kinds

    @classmethod
    def lazy(cls, make: Callable[[Any], Text], source: Any, kind: str = "event") -> Entry:
        """An entry whose Text is `make(source)`, built when it is first drawn or filtered.

        `make` is a module-level function and `source` plain data, not a closure: thousands of
        entries a second must not each add objects for the garbage collector to walk.
        """
        entry = cls.__new__(cls)
        entry._built, entry._make, entry._source, entry.kind = None, make, source, kind
        return entry

    def _build(self) -> tuple[RenderableType, str]:
        if self._built is None:
            assert self._make is not None
            text = self._make(self._source)
            self._built, self._make, self._source = (text, text.plain), None, None
        return self._built

    @property
    def renderable(self) -> RenderableType:
        return self._build()[0]

    @property
    def plain(self) -> str:
        return self._build()[1]

    def matches(self, needle: str) -> bool:
        """Case-insensitive substring match, the filter's rule."""
        return not needle or needle.casefold() in self.plain.casefold()


@dataclass(slots=True)
class Rendered:
    """What a renderer made of one event: finished entries, and whether its live part changed."""

    entries: list[Entry] = field(default_factory=list)
    live_changed: bool = False


def text_entry(text: Text, kind: str = "event") -> Entry:
    """An entry whose drawing is a Text and whose filter text is that Text's plain string."""
    return Entry(text, text.plain, kind)


def label(event_type: str, event_id: str) -> Text:
    """`TYPE #id ` prefix used by the generic renderers."""
    head = Text(event_type, style="bold cyan")
    if event_id:
        head.append(f" #{event_id}", style="dim")
    return head


def short_json(value: Any, limit: int = 80) -> str:
    """Compact one-line JSON, cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first(payload: dict[str, Any], *keys: str, default: Any = None) -> Any:
    """The first of `keys` present (and not None) in `payload`."""
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return value
    return default
