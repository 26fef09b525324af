"""A pane's history as a virtual list: only the entries in view are ever rendered."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from rich.style import Style
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from monitor.render.entries import Entry
from monitor.widgets.strips import render_strips

SCROLLBAR_SYNC = 0.25  # seconds between scrollbar redraws while following the tail


class _Row:
    """An entry and, while it is in view, its lines at the log's width."""

    __slots__ = ("entry", "strips")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.strips: list[Strip] | None = None


class EntryLog(ScrollView, can_focus=True):
    """Entries wrapped to the width, newest at the bottom, following the tail unless scrolled back.

    Adding entries costs list appends: rows are rendered only when they come into view (RichLog
    renders every line it is given), so the work per frame is bounded by the lines in view.
    Rows not yet rendered count as high as the average rendered row, so the scrollbar is to scale.
    """

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        self.max_entries = max_entries
        self._rows: list[_Row] = []
        self._heights: list[int] = []  # lines per row, 0 until rendered
        self._measured = (0, 0)  # (rows, lines) rendered at this width: guesses the others
        self._cached: list[_Row] = []  # rows holding strips: only those in view stay so
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
        return [row.entry for row in self._rows]

    def shown_text(self) -> list[str]:
        """Every line of every entry as plain text (renders them all: for tests and copies)."""
        width = self._content_width()
        return [strip.text.rstrip() for row in self._rows
                for strip in self._render(row, width, self._style)]

    def clear(self) -> None:
        """Remove every entry."""
        self._rows.clear()
        self._heights.clear()
        self._cached = []
        self._changed(follow=True)

    def extend(self, entries: Iterable[Entry], follow: bool | None = None) -> None:
        """Add entries at the bottom, keeping the newest `max_entries`; the view follows them
        when it was at the end (or when `follow` says so)."""
        rows = [_Row(entry) for entry in entries]
        if not rows:
            return
        follow = self._follow if follow is None else follow
        self._rows.extend(rows[-self.max_entries:])
        self._heights.extend([0] * min(len(rows), self.max_entries))
        if (excess := len(self._rows) - self.max_entries) > 0:
            del self._rows[:excess], self._heights[:excess]
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

    # -- rendering -------------------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _set_format(self, width: int, style: Style) -> None:
        """Forget rendered lines made at another width (and heights) or over another style."""
        if width != self._width:
            self._width = width
            for row in self._rows:
                row.strips = None
            self._heights = [0] * len(self._rows)
            self._measured = (0, 0)
            self._cached = []
            self._offsets = None
            self._version += 1
        if style != self._style:
            self._style = style
            self._release([])
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
        for index in range(len(self._rows) - 1, -1, -1):
            lines += self._render_row(index)
            if lines >= height:
                break

    def _render_row(self, index: int) -> int:
        row = self._rows[index]
        if row.strips is None:
            row.strips = self._render(row, self._width, self._style)
            self._cached.append(row)
            if len(row.strips) != self._heights[index]:
                if not self._heights[index]:
                    rows, lines = self._measured
                    self._measured = (rows + 1, lines + len(row.strips))
                self._heights[index] = len(row.strips)
                self._offsets = None
                self._version += 1
        return len(row.strips)

    def _render(self, row: _Row, width: int, style: Style) -> list[Strip]:
        strips = render_strips(self.app.console, row.entry.renderable, width, style)
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
            if self._scrollbar_sync is None:
                self._scrollbar_sync = self.set_timer(SCROLLBAR_SYNC, self._sync_scrollbar)

    def _sync_scrollbar(self) -> None:
        self._scrollbar_sync = None
        self._scroll_update(self.virtual_size)
        self.vertical_scrollbar.position = self.scroll_y

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
            while index < len(self._rows) and offsets[index] < top + height:
                if self._rows[index].strips is None:
                    self._render_row(index)
                    rendered_more = rendered_more or self._offsets is None  # a row grew: again
                index += 1
        offsets = self._line_offsets()
        index = max(bisect_right(offsets, top) - 1, 0)
        skip = top - offsets[index] if index < len(offsets) else 0
        window: list[Strip] = []
        first = index
        while len(window) < height and index < len(self._rows):
            strips = self._rows[index].strips or []
            window.extend(strips[skip:skip + height - len(window)])
            skip, index = 0, index + 1
        self._release(self._rows[first:index])
        if self.virtual_size.height != offsets[-1]:  # rows in view grew: the scrollbar follows
            self.call_after_refresh(self._update_virtual_size)
        return window

    def _release(self, shown: list[_Row]) -> None:
        """Drop the lines of rows out of view (their heights stay): a fast stream passes
        thousands of rows a second, and every Strip kept is objects the collector walks."""
        keep = {id(row) for row in shown}
        for row in self._cached:
            if id(row) not in keep:
                row.strips = None
        self._cached = shown

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
