"""A pane's history as a virtual list: only the entries in view are ever rendered."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from monitor.tui.render.entries import Entry
from monitor.tui.textual_fixes import bar_thumb, drawn_thumb
from monitor.tui.widgets.hanging import hung_strips
from monitor.tui.widgets.strips import render_strips

SCROLLBAR_SYNC = 0.25  # seconds between scrollbar redraws while following the tail


class EntryLog(ScrollView, can_focus=True):
    """Entries wrapped to the width, newest at the bottom, following the tail unless scrolled back.

    Adding entries costs list appends: rows are rendered only when they come into view (RichLog
    renders every line it is given), so the work per frame is bounded by the lines in view.
    Rows not yet rendered count as high as the average rendered row, so the scrollbar is to scale.
    """

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self.max_entries = max_entries
        self._entries: list[Entry] = []
        self._heights: list[int] = []  # lines per entry, 0 until rendered
        self._first = 0  # number of the first entry: an entry keeps its number as older ones go
        # Lines of the entries in view, by number (no object per entry: each is one more for the
        # collector to walk, at thousands a second)
        self._strips: dict[int, list[Strip]] = {}
        self._measured = (0, 0)  # (rows, lines) rendered at this width: guesses the others
        self._offsets: list[int] | None = None  # first line of each row (and the total), cached
        self._width = 0  # the width the rendered rows were wrapped at
        self._style = Style()  # the widget's style they were drawn over (focus tints it)
        self._version = 0  # bumped whenever rows or their heights change
        self._follow = True  # showing the newest lines: until the user scrolls back
        self._window_key: tuple[object, ...] | None = None
        self._window: list[Strip] = []  # the lines in view, built once per frame
        self._scrollbar_sync: Timer | None = None  # pending redraw of the scrollbar
        self._blank = Strip.blank(0)  # below the last row

    @property
    def entries(self) -> list[Entry]:
        """The entries the log holds, oldest first."""
        return list(self._entries)

    def shown_text(self) -> list[str]:
        """Every line of every entry as plain text (renders them all: for tests and copies)."""
        width = self._content_width()
        return [strip.text.rstrip() for entry in self._entries
                for strip in self._render(entry, width, self._style)]

    def clear(self) -> None:
        """Remove every entry."""
        self._entries.clear()
        self._heights.clear()
        self._strips = {}
        self._changed(follow=True)

    def extend(self, entries: Iterable[Entry], follow: bool | None = None) -> None:
        """Add entries at the bottom, keeping the newest `max_entries`; the view follows them
        when it was at the end (or when `follow` says so)."""
        new = list(entries)[-self.max_entries:]
        if not new:
            return
        follow = self._follow if follow is None else follow
        self._entries.extend(new)
        self._heights.extend([0] * len(new))
        if (excess := len(self._entries) - self.max_entries) > 0:
            del self._entries[:excess], self._heights[:excess]
            self._first += excess
        self._changed(follow)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Scrolling to the end follows again; growth of the virtual size alone does not stop it.
        self._follow = round(new) >= self.max_scroll_y

    def on_resize(self, event: Resize) -> None:
        if self._content_width() != self._width:  # rows wrapped at the old width are redone
            self._changed(follow=True)
        elif self._follow:  # shorter (a live panel opened): the end moved down, and so do we
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            self._schedule_scrollbar_sync()

    # -- rendering -------------------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _set_format(self, width: int, style: Style) -> None:
        """Forget rendered lines made at another width (and heights) or over another style."""
        if width != self._width:
            self._width = width
            self._strips = {}
            self._heights = [0] * len(self._entries)
            self._measured = (0, 0)
            self._offsets = None
            self._version += 1
        if style != self._style:
            self._style = style
            self._strips = {}
            self._version += 1

    def _changed(self, follow: bool) -> None:
        width = self._content_width()
        self._set_format(width, self.rich_style)
        self._offsets = None
        self._version += 1
        if follow and width:  # the end is exact: a frame that follows shows no half-placed rows
            self._render_tail(self.scrollable_content_region.height)
        if follow:
            self._follow = True
        self._update_virtual_size()
        self.refresh()

    def _render_tail(self, height: int) -> None:
        """Render the newest rows until they fill `height` lines, so the end is exact."""
        lines = 0
        for index in range(len(self._entries) - 1, -1, -1):
            lines += self._render_row(index)
            if lines >= height:
                break

    def _render_row(self, index: int) -> int:
        number = self._first + index
        strips = self._strips.get(number)
        if strips is None:
            strips = self._strips[number] = self._render(self._entries[index], self._width,
                                                         self._style)
            if len(strips) != self._heights[index]:
                if not self._heights[index]:
                    rows, lines = self._measured
                    self._measured = (rows + 1, lines + len(strips))
                self._heights[index] = len(strips)
                self._offsets = None
                self._version += 1
        return len(strips)

    def _render(self, entry: Entry, width: int, style: Style) -> list[Strip]:
        renderable = entry.renderable
        if isinstance(renderable, Text):  # a wrapped line reads as one: its rest indented
            strips = hung_strips(self.app.console, renderable, width, style)
        else:
            strips = render_strips(self.app.console, renderable, width, style)
        return strips or [Strip.blank(width, style)]

    def _line_offsets(self) -> list[int]:
        if self._offsets is None:
            rows, lines = self._measured
            guess = max(round(lines / rows), 1) if rows else 1
            self._offsets = list(accumulate((height or guess for height in self._heights),
                                            initial=0))
        return self._offsets

    def _update_virtual_size(self) -> None:
        size = Size(self._width, self._line_offsets()[-1])
        changed = size != self.virtual_size
        if changed:  # no layout pass (it repaints the whole screen): only the scrollbar changes
            self.set_reactive(ScrollView.virtual_size, size)
        if not self._follow:
            if changed:
                self._scroll_update(size)
            return
        # Following, a frame draws the tail whatever the offset: keep the offset at the end, and
        # redraw the scrollbar (as many lines as the log) a few times a second, not per flush.
        if changed:
            self._refresh_scrollbars()  # one appearing or going changes the size: a layout pass
        end = float(self.max_scroll_y)
        if changed or self.scroll_y != end:
            self.set_reactive(ScrollView.scroll_y, end)
            self.set_reactive(ScrollView.scroll_target_y, end)
        self._schedule_scrollbar_sync()

    def _schedule_scrollbar_sync(self) -> None:
        # Even when the log did not move: Textual's own layout and scrolling move the bar too.
        # A sync that finds the bar right costs two small sums, not a redraw.
        if self._scrollbar_sync is None:
            self._scrollbar_sync = self.set_timer(SCROLLBAR_SYNC, self._sync_scrollbar)

    def _sync_scrollbar(self) -> None:
        self._scrollbar_sync = None
        height = self.scrollable_content_region.height
        bar = self.vertical_scrollbar
        wanted = drawn_thumb(height, self.virtual_size.height, height, self.scroll_y)
        # Drawing the bar costs a frame as much as the lines in view: not when it looks the same
        # as it does now (Textual's layout may have moved it since our last sync)
        if self._follow and wanted == bar_thumb(bar) and wanted is not None:
            return
        self._scroll_update(self.virtual_size)
        bar.position = self.scroll_y

    def _build_window(self, top: int, height: int, at_end: bool) -> list[Strip]:
        """The lines from `top` (or the last lines, `at_end`), rendering the rows they fall in,
        which may push later rows down."""
        if at_end:
            self._render_tail(height)
            top = max(self._line_offsets()[-1] - height, 0)
        rendered_more = True
        while rendered_more:
            offsets = self._line_offsets()
            index = max(bisect_right(offsets, top) - 1, 0)
            rendered_more = False
            while index < len(self._entries) and offsets[index] < top + height:
                if self._first + index not in self._strips:
                    self._render_row(index)
                    rendered_more = rendered_more or self._offsets is None  # a row grew: again
                index += 1
        offsets = self._line_offsets()
        index = max(bisect_right(offsets, top) - 1, 0)
        skip = top - offsets[index] if index < len(offsets) else 0
        window: list[Strip] = []
        first = index
        while len(window) < height and index < len(self._entries):
            strips = self._strips.get(self._first + index, [])
            window.extend(strips[skip:skip + height - len(window)])
            skip, index = 0, index + 1
        self._release(range(self._first + first, self._first + index))
        if self.virtual_size.height != offsets[-1]:  # rows in view grew: the scrollbar follows
            self.call_after_refresh(self._update_virtual_size)
        return window

    def _release(self, shown: range) -> None:
        """Drop the lines of entries out of view (their heights stay): a fast stream passes
        thousands of entries a second, and every Strip kept is objects the collector walks."""
        self._strips = {number: self._strips[number] for number in shown
                        if number in self._strips}

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once a frame, not once a line: the sizes and the style walk the DOM each time.
        width = self._content_width()
        scroll_y, height = self.scroll_offset.y, self.scrollable_content_region.height
        self._set_format(width, self.rich_style)  # a first frame may come before on_resize
        at_end = self._follow  # rows growing into view must not push the end away
        if (scroll_y, at_end, width, height, self._version) != self._window_key:
            self._window = self._build_window(scroll_y, height, at_end)
            self._window_key = (scroll_y, at_end, width, height, self._version)
            self._blank = Strip.blank(width, self._style)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        return self._window[y] if y < len(self._window) else self._blank
