"""Where Textual's vertical scrollbar draws its thumb: to skip redraws that would look the same."""

from __future__ import annotations

from math import ceil

from textual.scrollbar import ScrollBar

EIGHTHS = 8  # Textual draws the thumb's ends in eighths of a cell


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
