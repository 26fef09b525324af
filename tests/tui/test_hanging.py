"""Wrapped lines hang: what a long line wraps into starts further in than the line itself."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.style import Style
from rich.text import Text

from monitor.tui.widgets.hanging import first_break, hung_strips
from monitor.tui.widgets.pane import StreamPane
from tests.tui.scenarios import settle, three_topics

pytestmark = pytest.mark.anyio


def drawn(console: Console, text: Text, width: int) -> list[str]:
    return [strip.text.rstrip() for strip in hung_strips(console, text, width, Style())]


def test_continuations_are_indented_and_explicit_lines_are_not() -> None:
    console = Console(width=200)
    text = Text("16:00:04 INFO agent.tools: enqueued job 3811 (queue depth 5)\n  second line",
                style="bold")
    lines = drawn(console, text, 30)
    assert lines[0] == "16:00:04 INFO agent.tools:"
    assert lines[1:3] == ["  enqueued job 3811 (queue", "  depth 5)"]
    assert lines[3] == "  second line"  # a line of its own keeps its own indent
    assert all(len(line) <= 30 for line in lines)
    assert "".join(line.strip() for line in lines).replace(" ", "") == (
        text.plain.replace("\n", "").replace(" ", ""))  # nothing lost
    nested = drawn(console, Text("    ✓ list_files(path) → list_files: ok (22 items)"), 30)
    assert nested[1].startswith("      list_files:")  # its own indent, +2
    assert drawn(console, Text("fits"), 30) == ["fits"]


@pytest.mark.parametrize("width", [20, 30, 47, 80])
def test_canary_the_first_break_is_where_rich_wraps(width: int) -> None:
    """first_break uses Rich's private divide_line: it must end the first line as Text.wrap
    does (the space it breaks at is drawn by neither)."""
    console = Console(width=200)
    for plain in ("16:00:04 INFO agent.tools: enqueued job 3811 (queue depth 5) trace=abc",
                  "x" * 130, "a " * 70, "    ✓ list_files(path) → list_files: ok (22 items)",
                  "日本語のテキスト " * 12):
        text = Text(plain)
        first_line = text.wrap(console, width)[0].plain
        assert plain[:first_break(text, width)].rstrip() == first_line.rstrip()


async def test_log_lines_that_wrap_hang_in_the_pane() -> None:
    app = three_topics().app()
    async with app.run_test(size=(100, 45)) as pilot:
        await settle(pilot)
        logs = list(app.screen.query(StreamPane))[1]
        shown = logs.log_view.shown_text()
        wrapped = [line for line in shown if line and not line[0].isdigit() and "──" not in line]
        print("\n".join(shown[-12:]))
        assert wrapped and all(line.startswith("  ") for line in wrapped)
