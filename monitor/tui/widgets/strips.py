"""Rich renderables to Textual strips, for the widgets that draw their own lines."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


def render_strips(console: Console, renderable: RenderableType, width: int,
                  style: Style) -> list[Strip]:
    """The renderable's lines, wrapped, padded to `width` and drawn over `style`: one Strip
    each (a Strip is eight objects; making it once saves a crop and a restyle per frame)."""
    if isinstance(renderable, Text) and "\t" in renderable.plain:
        renderable = renderable.copy()
        renderable.expand_tabs()
    segments = console.render(renderable, console.options.update_width(max(width, 1)))
    lines = Segment.split_and_crop_lines(segments, width, style, include_new_lines=False)
    return [Strip(Segment.apply_style(line, style), width) for line in lines]
