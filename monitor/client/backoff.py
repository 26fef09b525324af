"""Reconnect arithmetic: how long a stream waits before it tries again, bounded for ever.

Integers where a server sends digits, a floor after a failure and a cap on the growth, so that no
`retry:`, `Retry-After` or number of attempts can make a tight loop, a day-long wait or an overflow.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

from monitor.client.sse import MAX_RETRY_MS

# A failed connection waits at least this long, whatever `retry:` or Retry-After said.
MIN_RECONNECT_DELAY = 0.25
MAX_RECONNECT_DELAY = MAX_RETRY_MS / 1000  # the longest wait a server may ask for
MAX_DOUBLINGS = 64  # the cap is reached long before; 2 ** attempt would overflow a float


def backoff_delay(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before reconnect `attempt` (1, 2, ...): `base` first, then doubling with jitter.

    The cap bounds the growth but never shortens a reconnection time the server asked for.
    Any attempt number works: a stream may retry every `cap` seconds for days.
    """
    if attempt <= 1:
        return base
    delay = min(max(cap, base), base * 2.0 ** min(attempt - 1, MAX_DOUBLINGS))
    return max(base, delay * (0.5 + rand() / 2))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None.

    At most MAX_RECONNECT_DELAY, however many digits or however far the date.
    """
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"
        if len(digits) > len(str(int(MAX_RECONNECT_DELAY))):
            return MAX_RECONNECT_DELAY
        return min(float(digits), MAX_RECONNECT_DELAY)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(0.0, when.timestamp() - now), MAX_RECONNECT_DELAY)


def seconds_text(value: float) -> str:
    """`15s`, `0.5s`, `2.3s`: a delay or a timeout as a person reads it."""
    return f"{value:.1f}".rstrip("0").rstrip(".") + "s"
