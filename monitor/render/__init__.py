"""Turning stream items into Rich renderables, format by format (pure: no Textual widgets)."""

from monitor.render.entries import Entry
from monitor.render.pane import PaneRenderer
from monitor.render.stats import PaneStats

__all__ = ["Entry", "PaneRenderer", "PaneStats"]
