"""The patch of Textual's Strip.divide: a strip the compositor draws whole is no reference cycle."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence

import pytest
from rich.segment import Segment
from textual.strip import Strip

from monitor.tui.textual_fixes import _textual_divide, break_strip_cycles


@pytest.fixture
def no_automatic_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def cyclic_garbage_of(divide: Callable[[Strip, list[int]], Sequence[Strip]]) -> int:
    """Objects only the collector frees, after one strip is divided at its end and dropped."""
    strip = Strip([Segment("abc")], 3)
    assert divide(strip, [3]) == [strip]
    del strip
    return gc.collect()


def test_textual_alone_leaves_every_strip_drawn_whole_in_a_cycle(
        no_automatic_collection: None) -> None:
    # When this fails, Textual has fixed it upstream and break_strip_cycles can go.
    assert cyclic_garbage_of(_textual_divide) > 0


def test_patched_a_strip_divided_at_its_end_is_freed_at_once(
        no_automatic_collection: None) -> None:
    break_strip_cycles()
    break_strip_cycles()  # idempotent: every app patches it
    assert cyclic_garbage_of(Strip.divide) == 0


def test_patched_divide_still_cuts_like_textual() -> None:
    break_strip_cycles()
    strip = Strip([Segment("abc"), Segment("def")], 6)
    for cuts in ([1, 6], [3, 6], [2, 4, 6], [6, 9], [0, 6], [6]):
        assert [piece.text for piece in strip.divide(cuts)] == \
            [piece.text for piece in _textual_divide(strip, cuts)]
