"""Turning stream items into Rich renderables, format by format (pure: no Textual widgets)."""

from monitor.tui.render.entries import Entry
from monitor.tui.render.pane import PaneRenderer
from monitor.tui.render.stats import PaneStats

__all__ = ["Entry", "PaneRenderer", "PaneStats"]
