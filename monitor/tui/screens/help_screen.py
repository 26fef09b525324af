"""The `?` screen: every key the monitor answers to, with its binding id for remapping."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from monitor.tui.render.entries import shown

KeyRow = tuple[str, str, str]  # (keys, what it does, binding id)


class HelpScreen(ModalScreen[None]):
    """A table of keys; any of Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help", id="help-close")]

    def __init__(self, rows: list[KeyRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(expand=True, box=None, padding=(0, 1), show_edge=False)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("does", ratio=1)
        table.add_column("id (for SSE_MONITOR_KEYS)", style="dim", no_wrap=True)
        for row in self.rows:
            table.add_row(*map(shown, row))  # keys come from the environment: not markup
        with VerticalScroll(classes="dialog"):
            yield Label("sse-monitor keys", classes="dialog-title")
            yield Static(table)
            yield Label("Ctrl+P opens the command palette with all of these. Esc closes.",
                        classes="dialog-hint")
