"""Every key of the monitor as a command in the command palette (Ctrl+P)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from monitor.tui.screens.main_screen import MonitorScreen


class MonitorCommands(Provider):
    """Commands for the bindings of the monitor's screen, run on its focused pane."""

    def _commands(self) -> list[tuple[str, str, str]]:
        """(title with keys, help, action) for every binding of the monitor's screen."""
        screen = self._screen()
        if screen is None:
            return []
        keys = screen.keys_by_id()
        return [(f"{binding.description} ({keys.get(binding.id or '', binding.key)})",
                 binding.tooltip, binding.action) for binding in screen.bindings_with_ids()]

    def _screen(self) -> MonitorScreen | None:
        screens = [s for s in self.app.screen_stack if isinstance(s, MonitorScreen)]
        return screens[0] if screens else None

    def _run(self, action: str) -> None:
        screen = self._screen()
        if screen is not None:  # after the palette has closed, so dialogs open on top
            self.app.call_later(screen.run_action, action)

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action),
                          text=title, help=help_text)
