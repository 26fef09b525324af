"""Hanging indents: the lines a long line wraps into start further in than the line itself."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

HANGING_INDENT = 2  # cells a wrapped line's continuation starts further in
MIN_WIDTH = 20  # narrower than this, an indent costs more than it helps


def hang(console: Console, text: Text, width: int, indent: int = HANGING_INDENT) -> Text:
    """`text` with each line that is wider than `width` wrapped by Rich, its continuation lines
    indented by `indent` more than the line itself; the same Text when no line wraps (the usual
    case, and a cheap look)."""
    if text.no_wrap or width < MIN_WIDTH or cell_len(text.plain) <= width:
        return text
    lines = text.split("\n", allow_blank=True)
    if all(cell_len(line.plain) <= width for line in lines):
        return text
    pieces: list[Text] = []
    for line in lines:
        first = line.wrap(console, width)[0] if cell_len(line.plain) > width else line
        pieces.append(first)
        rest = line[len(first.plain):]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")):]  # the space it broke at
        if rest.plain:
            own = len(line.plain) - len(line.plain.lstrip(" "))
            margin = min(own + indent, width // 2)
            for wrapped in rest.wrap(console, width - margin):
                pieces.append(Text(" " * margin) + wrapped)
    hung = Text("\n").join(pieces)
    hung.justify, hung.overflow, hung.end = text.justify, text.overflow, text.end
    return hung
