"""Shorter forms of a status bar's words, so a narrow pane shortens them before it cuts them."""

from __future__ import annotations

from itertools import product

from rich.cells import cell_len

from monitor.client.backoff import seconds_text
from monitor.client.events import State, StateChange
from monitor.client.sanitize import visible

LABEL_PADDING = 2  # cells around each label of the bar (monitor.tcss: padding 0 1)
STATE_SHARE = 0.6  # the state label's max-width in monitor.tcss
SUMMARY_ROOM = 16  # cells of counters worth keeping before the state and heartbeat shorten
HEARTBEAT_WORDS = (("overdue", "late"), ("no heartbeat", "none"))


def state_forms(change: StateChange | None) -> list[str]:
    """The state as it reads in full, then shorter: the reason goes first, then the words."""
    if change is None:
        return [State.CONNECTING.value]
    full = change.describe()
    if change.state is State.RECONNECTING:
        delay = seconds_text(change.delay)
        return [full, f"reconnecting in {delay} (attempt {change.attempt})",
                f"retry in {delay} (#{change.attempt})", f"retry {delay}"]
    if change.state is State.LIVE and change.reason:
        return [full, State.LIVE.value]
    return [full]


def heartbeat_forms(text: str) -> list[str]:
    """`♥ overdue 51s`, then `♥ late 51s`: the age and the level stay."""
    short = text
    for word, shorter in HEARTBEAT_WORDS:
        short = short.replace(word, shorter)
    return [text] if short == text else [text, short]


def fitted(width: int, states: list[str], beats: list[str], gaps: str) -> tuple[str, str]:
    """The longest state and heartbeat forms that leave the counters SUMMARY_ROOM cells in a bar
    `width` cells wide, shortening both a little before either a lot (the heartbeat's words
    last); the shortest when none fit (or when the width is not known yet)."""
    if width <= 0:
        return states[0], beats[0]
    fixed = (cell_len(visible(gaps)) + LABEL_PADDING if gaps else 0) + 2 * LABEL_PADDING
    levels = sorted(product(range(len(states)), range(len(beats))),
                    key=lambda pair: (max(pair), sum(pair), pair[1]))
    for state_level, beat_level in levels:
        state, beat = states[state_level], beats[beat_level]
        state_cells = cell_len(visible(state))
        if (state_cells + LABEL_PADDING <= width * STATE_SHARE
                and fixed + state_cells + cell_len(beat) + SUMMARY_ROOM <= width):
            return state, beat
    return states[-1], beats[-1]
