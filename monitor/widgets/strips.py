"""Rich renderables to Textual strips, for the widgets that draw their own lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


_textual_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """Strip.divide, but a strip cut only at its end is not cached in itself."""
    cuts = list(cuts)
    if [cut for cut in cuts if cut <= self.cell_length] == [self.cell_length]:
        return [self]
    return _textual_divide(self, cuts)


def break_strip_cycles() -> None:
    """Patch Textual's Strip.divide (idempotent).

    Textual 8 caches `[self]` in the strip's own divide cache: every line the compositor draws
    whole becomes a reference cycle (the strip and its seven caches), freed only by the
    collector, whose passes then fill with strips (bench/NOTES.md, "Strips in cycles").
    """
    Strip.divide = _divide  # type: ignore[method-assign]
