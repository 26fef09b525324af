"""Replay pacing as pure logic: an injected clock, no sleeping."""

from __future__ import annotations

import pytest

from monitor.recording.playback import Playback, play


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TIMES = [10.0, 10.5, 12.0, 12.0, 20.0]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_original_pacing(clock: FakeClock) -> None:
    playback = Playback(TIMES, clock=clock)
    assert list(playback.due()) == [0]
    assert playback.wait() == pytest.approx(0.5)
    clock.now += 0.4
    assert list(playback.due()) == []
    clock.now += 0.1
    assert list(playback.due()) == [1]
    clock.now += 1.5
    assert list(playback.due()) == [2, 3]
    assert playback.wait() == pytest.approx(8.0)
    clock.now += 8.0
    assert list(playback.due()) == [4]
    assert playback.finished and playback.wait() is None


def test_speed_scales_the_pacing(clock: FakeClock) -> None:
    playback = Playback(TIMES, speed=4, clock=clock)
    playback.due()
    assert playback.wait() == pytest.approx(0.125)
    clock.now += 0.5  # 2 recording seconds
    assert list(playback.due()) == [1, 2, 3]
    assert playback.position == pytest.approx(12.0)
    playback.set_speed(0.5)
    assert playback.wait() == pytest.approx(16.0)


def test_speed_zero_delivers_everything_at_once_in_batches(clock: FakeClock) -> None:
    playback = Playback(TIMES, speed=0, clock=clock)
    assert list(playback.due(limit=2)) == [0, 1]
    assert playback.wait() == 0
    assert playback.position == 10.5
    assert list(playback.due()) == [2, 3, 4]
    assert playback.position == 20.0


def test_pause_holds_the_playhead(clock: FakeClock) -> None:
    playback = Playback(TIMES, clock=clock)
    playback.due()
    clock.now += 0.25
    playback.pause()
    assert playback.changed.is_set()
    clock.now += 100
    assert list(playback.due()) == [] and playback.wait() is None
    assert playback.position == pytest.approx(10.25)
    playback.toggle_pause()
    assert playback.wait() == pytest.approx(0.25)
    clock.now += 0.25
    assert list(playback.due()) == [1]


def test_seek_forward_delivers_what_it_skips(clock: FakeClock) -> None:
    playback = Playback(TIMES, clock=clock)
    playback.due()
    assert playback.seek(15.0) is False
    assert list(playback.due()) == [1, 2, 3]
    assert playback.wait() == pytest.approx(5.0)


def test_seek_back_restarts_delivery_from_the_start(clock: FakeClock) -> None:
    playback = Playback(TIMES, clock=clock)
    clock.now += 3
    assert list(playback.due()) == [0, 1, 2, 3]
    assert playback.seek_by(-2.5) is True  # to 10.5: items 2 and 3 were shown, so redraw
    assert list(playback.due()) == [0, 1]
    assert playback.seek(-50) is True  # clamped to the start: item 1 was shown, item 0 stays
    assert playback.position == 10.0
    assert list(playback.due()) == [0]
    assert playback.seek(10.0) is False


def test_seek_while_paused_shows_up_to_there_and_stays_paused(clock: FakeClock) -> None:
    playback = Playback(TIMES, clock=clock)
    playback.pause()
    playback.seek(12.0)
    assert list(playback.due()) == [0, 1, 2, 3]
    clock.now += 50
    assert list(playback.due()) == [] and playback.wait() is None
    playback.resume()
    assert playback.wait() == pytest.approx(8.0)


def test_a_clock_step_back_in_the_recording_never_rewinds(clock: FakeClock) -> None:
    playback = Playback([5.0, 4.0, 6.0], clock=clock)
    assert list(playback.due()) == [0, 1]


def test_bad_speed_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="speed"):
        Playback(TIMES, speed=-1, clock=clock)


@pytest.mark.anyio
async def test_play_drives_delivery_with_an_injected_wait(clock: FakeClock) -> None:
    playback = Playback(TIMES, speed=2, clock=clock)
    delivered: list[tuple[float, list[int]]] = []
    waits: list[float | None] = []

    async def fake_wait(_: Playback, seconds: float | None) -> None:
        waits.append(seconds)
        clock.now += seconds or 0

    await play(playback, lambda due: delivered.append((clock.now, list(due))), wait=fake_wait)
    assert delivered == [(1000.0, [0]), (1000.25, [1]), (1001.0, [2, 3]), (1005.0, [4])]
    assert waits == pytest.approx([0.25, 0.75, 4.0])


@pytest.mark.anyio
async def test_play_waits_while_paused_until_resumed() -> None:
    import asyncio

    playback = Playback([0.0, 0.0, 1.0], speed=0)
    playback.pause()
    delivered: list[int] = []
    task = asyncio.create_task(play(playback, delivered.extend))
    await asyncio.sleep(0.05)
    assert delivered == [0, 1]  # those at the paused playhead (the start) only
    playback.resume()
    await asyncio.wait_for(task, 2)
    assert delivered == [0, 1, 2]
