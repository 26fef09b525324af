"""Where Textual falls short for us: each workaround here, with its canary test in tests/tui/.

- `break_strip_cycles`: Textual 8's `Strip.divide` caches `[self]` in the strip's own cache,
  so every line the compositor draws whole becomes a reference cycle (the strip and its seven
  caches), freed only by the collector, whose passes then fill with strips. Patched for the whole
  process, once.
  Upstream: not reported yet; the cache is in `Strip.divide`,
  https://github.com/Textualize/textual/blob/main/src/textual/strip.py. Canary:
  tests/tui/test_strips.py.
- `drawn_thumb`: where Textual's vertical scrollbar draws its thumb, computed as
  `ScrollBarRender.render_bar` does, so that a log skips redraws that would look the same; Textual
  redraws the bar on every scroll-size change. Upstream: not a bug, the maths is
  `ScrollBarRender.render_bar` in https://github.com/Textualize/textual/blob/main/src/textual/scrollbar.py.
  Canary: tests/tui/test_scrollbar.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import ceil

from textual.scrollbar import ScrollBar
from textual.strip import Strip

EIGHTHS = 8  # Textual draws the thumb's ends in eighths of a cell

_textual_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """Strip.divide, but a strip cut only at its end is not cached in itself."""
    cuts = list(cuts)
    if [cut for cut in cuts if cut <= self.cell_length] == [self.cell_length]:
        return [self]
    return _textual_divide(self, cuts)


def break_strip_cycles() -> None:
    """Patch Textual's Strip.divide (idempotent)."""
    Strip.divide = _divide  # type: ignore[method-assign]


def drawn_thumb(length: int, virtual: float, window: float,
                position: float) -> tuple[int, int, int] | None:
    """(bar length, thumb start, thumb end) in eighths of a cell, as ScrollBarRender.render_bar
    places them for ScrollBar's inputs; None where it draws no thumb."""
    virtual, window = ceil(virtual), ceil(window) if window < virtual else 0
    position = int(position * EIGHTHS) / EIGHTHS  # ScrollBar.validate_position
    if not (window and length and virtual and length != virtual):
        return None
    thumb = max(1, window / (virtual / length))
    start = int((length - thumb) * position / (virtual - window) * EIGHTHS)
    return length, start, start + ceil(thumb * EIGHTHS)


def bar_thumb(bar: ScrollBar) -> tuple[int, int, int] | None:
    """Where `bar` draws its thumb now, from its own inputs (drawn_thumb's terms)."""
    return drawn_thumb(bar.size.height, bar.window_virtual_size, bar.window_size, bar.position)
