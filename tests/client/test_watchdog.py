"""The watchdog's arithmetic on a clock the test moves: it arms only on a rhythm, or when forced."""

from __future__ import annotations

from monitor.client.watchdog import MIN_AUTO_WATCHDOG, WATCHDOG_HEARTBEATS, Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def beats(watchdog: Watchdog, clock: Clock, *gaps: float) -> None:
    for gap in gaps:
        clock.now += gap
        watchdog.keepalive()


def test_no_watchdog_until_a_rhythm_then_a_few_of_its_intervals() -> None:
    clock = Clock()
    watchdog = Watchdog(clock=clock)
    beats(watchdog, clock, 0, 5)
    assert watchdog.timeout() is None  # two keep-alives are no rhythm yet
    beats(watchdog, clock, 6)
    assert watchdog.timeout() == WATCHDOG_HEARTBEATS * 6
    watchdog.new_connection()
    assert watchdog.timeout() == WATCHDOG_HEARTBEATS * 6  # the rhythm is the server's: it stays


def test_irregular_keepalives_are_no_rhythm() -> None:
    clock = Clock()
    watchdog = Watchdog(clock=clock)
    beats(watchdog, clock, 0, 1, 50)  # a ping, then an agent thinking for 50 s
    assert watchdog.timeout() is None


def test_a_rhythm_is_timed_within_one_connection() -> None:
    clock = Clock()
    watchdog = Watchdog(clock=clock)
    beats(watchdog, clock, 0, 5)
    watchdog.new_connection()
    beats(watchdog, clock, 5)
    assert watchdog.timeout() is None


def test_a_fast_rhythm_still_allows_the_minimum() -> None:
    clock = Clock()
    watchdog = Watchdog(clock=clock)
    beats(watchdog, clock, 0, 0.1, 0.1)
    assert watchdog.timeout() == MIN_AUTO_WATCHDOG


def test_forced_or_off() -> None:
    assert Watchdog(7.5).timeout() == 7.5
    off = Watchdog(0)
    clock = Clock()
    off.clock = clock
    beats(off, clock, 0, 1, 1)
    assert off.timeout() is None
