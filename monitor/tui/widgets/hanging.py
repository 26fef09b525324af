"""Hanging indents: the lines a long line wraps into start further in than the line itself."""

from __future__ import annotations

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from monitor.tui.widgets.strips import render_strips

HANGING_INDENT = 2  # cells a wrapped line's continuation starts further in
MIN_WIDTH = 20  # narrower than this, an indent costs more than it helps


def first_break(line: Text, width: int) -> int:
    """Where Rich's word wrap ends the first line of `line` at `width` (its offset in the text).

    Rich's own `divide_line`, which `Text.wrap` uses: a private function, but wrapping the whole
    line with `Text.wrap` only to keep its first line cost more than the drawing it serves
    (tests/tui/test_hanging.py checks that both agree).
    """
    breaks = divide_line(line.plain, width, fold=True)
    return breaks[0] if breaks else len(line.plain)


def hung_strips(console: Console, text: Text, width: int, style: Style) -> list[Strip]:
    """`text` drawn `width` wide, each line that wraps continuing `HANGING_INDENT` cells further
    in than the line itself; as plain drawing when no line wraps (the usual case)."""
    if text.no_wrap or width < MIN_WIDTH or cell_len(text.plain) <= width:
        return render_strips(console, text, width, style)
    lines = text.split("\n", allow_blank=True)
    if all(cell_len(line.plain) <= width for line in lines):
        return render_strips(console, text, width, style)
    strips: list[Strip] = []
    for line in lines:
        if cell_len(line.plain) <= width:
            strips += render_strips(console, line, width, style)
            continue
        cut = first_break(line, width)
        strips += render_strips(console, line[:cut], width, style)
        rest = line[cut:]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")):]  # the space it broke at
        if rest.plain:
            own = len(line.plain) - len(line.plain.lstrip(" "))
            margin = min(own + HANGING_INDENT, width // 2)
            pad = Strip.blank(margin, style)
            strips += [Strip.join([pad, strip])
                       for strip in render_strips(console, rest, width - margin, style)]
    return strips
