"""Publish-to-display latency: recognised timestamps, p50 and max over the last minute."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.client.latency import SAMPLES_PER_SECOND, LatencySummary, LatencyWindow, publish_time


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ts": 1764000000.25, "level": "info"}, 1764000000.25),
        ({"seq": 3, "ts_ns": 1764000000250000000}, 1764000000.25),
        ({"type": "TEXT_MESSAGE_CONTENT", "delta": "", "timestamp": 1764000000250}, 1764000000.25),
        ({"id": "chatcmpl-1", "created": 1764000000, "choices": []}, None),  # seconds: too coarse
        ({"timestamp": 1764000000250}, None),  # not an AG-UI event: unit unknown
        ({"ts": "2026-11-24T10:00:00Z"}, None),
        ({"ts": True}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_publish_time_is_read_only_from_meaningful_fields(data, expected) -> None:
    assert publish_time(data) == (None if expected is None else pytest.approx(expected, abs=1e-6))


def test_p50_and_max_of_the_window() -> None:
    window = LatencyWindow()
    for published, latency in [(100.0, 0.010), (100.1, 0.030), (100.2, 0.020), (101.0, 0.200)]:
        window.observe(published, published + latency)
    summary = window.summary(now=101.5)
    assert summary == LatencySummary(p50=pytest.approx(0.020), max=pytest.approx(0.2), count=4)
    assert summary.describe() == "lat 20ms/200ms"
    assert LatencySummary(p50=-0.0004, max=12.5, count=2).describe() == "lat 0ms/12s"


def test_events_older_than_a_minute_drop_out() -> None:
    window = LatencyWindow()
    window.observe(99.0, 100.0)  # one slow event, a second of latency
    window.observe(129.99, 130.0)
    assert window.summary(now=150.0).max == pytest.approx(1.0)
    summary = window.summary(now=161.5)
    assert summary.max == pytest.approx(0.01) and summary.count == 1
    assert window.summary(now=200.0) is None


def test_events_without_a_publish_time_are_not_measured() -> None:
    window = LatencyWindow()
    window.observe_event({"created": 1764000000}, 1764000000.5)
    window.observe_event({"ts": 1764000000.0}, 1764000000.5)
    assert window.summary(now=1764000001.0).count == 1


def test_implausible_timestamps_are_ignored() -> None:
    window = LatencyWindow()
    window.observe_event({"ts": 12.5}, 1764000000.0)  # seconds since start, not epoch
    assert window.summary(now=1764000000.0) is None
    assert window.last_published is None


def test_the_newest_publish_time_counted_tells_how_far_behind_the_stream_is() -> None:
    window = LatencyWindow()
    window.observe_event({"ts": 1764000000.0}, 1764000000.5)
    window.observe_event({"created": 1764000001}, 1764000001.5)  # no publish time: not counted
    assert window.last_published == 1764000000.0


def test_memory_is_bounded_at_high_rates_and_the_median_stays_close() -> None:
    window = LatencyWindow()
    events = 20_000
    for i in range(events):  # one second: latencies 0..19.999 ms evenly, median ~10 ms
        displayed = 500.0 + i / events
        window.observe(displayed - i / 1_000_000, displayed)
    summary = window.summary(now=501.0)
    assert summary.count == events
    assert summary.max == pytest.approx(0.019999)
    assert summary.p50 == pytest.approx(0.010, abs=0.002)
    assert sum(len(s.samples) for s in window._seconds) == SAMPLES_PER_SECOND


def test_two_seconds_weigh_by_their_event_counts() -> None:
    window = LatencyWindow()
    for i in range(3 * SAMPLES_PER_SECOND):  # a busy second, all 5 ms
        window.observe(10.0 + i / 1e6, 10.005 + i / 1e6)
    for _ in range(10):  # a quiet second, all 1 s
        window.observe(10.0, 11.0)
    assert window.summary(now=12.0).p50 == pytest.approx(0.005)


def weighted_median(window: LatencyWindow) -> float:
    """The definition, the slow way: every kept sample with its second's weight, sorted."""
    pairs = sorted((latency, second.count / len(second.samples))
                   for second in window._seconds for latency in second.samples)
    half = sum(weight for _, weight in pairs) / 2
    running = 0.0
    for latency, weight in pairs:
        running += weight
        if running >= half:
            return latency
    raise AssertionError("no samples")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 700), st.integers(0, 40)),
                min_size=1, max_size=8))
def test_the_median_is_exactly_the_weighted_median_of_what_was_kept(
    seconds: list[tuple[int, int, int]],
) -> None:
    window = LatencyWindow(seed=3)
    start = 1000
    for gap, events, spread in seconds:  # seconds with few or many events, repeated latencies
        start += gap
        for i in range(events):
            window.observe(start - (i % (spread + 1)) / 1000, start + i / (events + 1))
    for now in (start + 0.5, start + 1.5):  # with the newest second still open, and closed
        summary = window.summary(now=now)
        assert summary is not None and summary.p50 == weighted_median(window)
