"""Where Textual's vertical scrollbar draws its thumb: to skip redraws that would look the same."""

from __future__ import annotations

from math import ceil

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
