"""Renderers: formats recognised by event type and JSON shape, bounded state, counters."""

from __future__ import annotations

import gc

import pytest
from rich.console import Console

from monitor.client.events import Gap, Heartbeat, State
from monitor.tui.render import PaneRenderer, tokens
from server import wire
from tests.tui.scenarios import T0, change, event, formats, simulated


def drawn(renderer: PaneRenderer) -> list[str]:
    return [entry.plain for entry in renderer.history.entries]


def live_text(renderer: PaneRenderer) -> str:
    live = renderer.live()
    if live is None:
        return ""
    console = Console(width=100, record=True, color_system=None)
    console.print(live)
    return console.export_text()


def test_each_vendor_token_stream_becomes_one_message_with_usage() -> None:
    for config_, items in formats().streams[:2]:
        renderer = PaneRenderer()
        for item in items:
            renderer.feed(item)
        text = "\n".join(drawn(renderer))
        assert "assistant ▸ Hello! Streams arrive as deltas." in text, config_.url
        assert "usage: in" in text
        assert renderer.live() is None


def test_open_messages_stay_live_until_they_end() -> None:
    anthropic = formats().streams[2][1]
    renderer = PaneRenderer()
    for item in anthropic:
        renderer.feed(item)
    assert "Hello! Streams arrive" in live_text(renderer)
    assert not any("Hello" in line for line in drawn(renderer))
    renderer.feed(event("message_stop", {"type": "message_stop"}, None, T0 + 9))
    assert renderer.live() is None
    assert "assistant ▸ Hello! Streams arrive\nusage: in 25 tokens" in drawn(renderer)


def test_a_message_that_never_ends_keeps_its_newest_characters_in_few_strings() -> None:
    renderer = PaneRenderer()
    renderer.feed(event("TEXT_MESSAGE_START", {"messageId": "m", "role": "assistant"}, 1, T0))
    for seq in range(2, 30_002):  # 300,000 characters, 100,000 over the bound
        renderer.feed(event("TEXT_MESSAGE_CONTENT", {"messageId": "m", "delta": f"{seq % 10}" * 10},
                            seq, T0 + seq / 1000))
    (message,) = renderer.tokens.open.values()
    assert len(message.parts) < tokens.JOIN_PARTS and len(message.text) <= tokens.MAX_MESSAGE_CHARS
    assert message.text.endswith("0000000000" + "1111111111")  # the newest deltas
    renderer.feed(event("TEXT_MESSAGE_END", {"messageId": "m"}, 30_002, T0 + 31))
    (line,) = drawn(renderer)
    assert line.startswith("assistant ▸ … (100,000 characters not kept) 2222222222")
    assert line.endswith("0000000000" + "1111111111") and len(line) < tokens.MAX_MESSAGE_CHARS + 60


def test_ag_ui_tokens_from_the_simulator_assemble_message_by_message() -> None:
    renderer = PaneRenderer()
    for item in simulated("tokens", 200):
        renderer.feed(item)
    messages = [line for line in drawn(renderer) if line.startswith("assistant ▸")]
    assert len(messages) >= 2 and all("usage: in" in message for message in messages)
    assert renderer.stats.events == 200


def test_progress_runs_draw_bars_and_failures() -> None:
    renderer = PaneRenderer()
    for item in simulated("progress", 40):
        renderer.feed(item)
    lines = drawn(renderer)
    assert any(line.startswith("▶ run run-") for line in lines)
    assert any("failed: model rate limit" in line for line in lines)
    assert any("✓ list_files" in line and "ok (" in line for line in lines)
    live = live_text(renderer)
    assert "▶ run-" in live and "%" in live


def test_log_records_keep_level_logger_and_traceback() -> None:
    renderer = PaneRenderer()
    renderer.feed(event("log", {"level": "ERROR", "logger": "db.pool", "message": "acquire failed",
                                "traceback": "Traceback (most recent call last):\n  boom"},
                        1, T0))
    (line,) = drawn(renderer)
    assert line.startswith("ERROR   db.pool: acquire failed")
    assert "\n    Traceback (most recent call last):\n      boom" in line


def test_unknown_events_fall_back_to_type_id_and_json_or_text() -> None:
    renderer = PaneRenderer()
    renderer.feed(event("custom", {"a": 1}, 5, T0))
    renderer.feed(event("message", "not json", 6, T0))
    assert drawn(renderer) == ['custom #3f9a01c2-5 {"a": 1}', "message #3f9a01c2-6 not json"]


def test_json_nested_too_deep_to_parse_is_shown_as_text() -> None:
    renderer = PaneRenderer()
    deep = "[" * 5000 + "]" * 5000  # past the parser's recursion limit: it raised, the pane died
    renderer.feed(event("message", deep, 7, T0))
    assert drawn(renderer) == [f"message #3f9a01c2-7 {deep}"]


def test_gap_and_states_are_lines_in_the_stream_and_counted() -> None:
    renderer = PaneRenderer()
    renderer.feed(change(State.RECONNECTING, T0, "refused", attempt=2, delay=3.0))
    renderer.feed(Gap("a-1", "evicted", "too old", "a-50", 45, T0, "a-49"))
    assert drawn(renderer)[0] == "── reconnecting in 3s (attempt 2): refused ──"
    assert "GAP: 45 events missed (evicted)" in drawn(renderer)[1]
    assert renderer.history.entries[1].kind == "gap"
    assert (renderer.stats.gaps, renderer.stats.reconnects, renderer.stats.last_id) == (
        1, 1, "a-49")


def test_history_is_capped_and_counts_what_fell_off() -> None:
    renderer = PaneRenderer(max_lines=10)
    for seq in range(25):
        renderer.feed(event("custom", {"n": seq}, seq, T0))
    assert len(renderer.history.entries) == 10 and renderer.history.appended == 25
    newest = renderer.history.since(20)
    assert len(newest) == 5 and newest[0].plain.endswith('{"n": 20}')
    assert len(renderer.history.since(0)) == 10


def test_rate_and_heartbeat_age_follow_the_given_clock() -> None:
    renderer = PaneRenderer()
    for seq in range(20):
        renderer.feed(event("custom", {}, seq, T0 + seq / 2))
    renderer.feed(Heartbeat("{}", T0 + 5))
    renderer.feed(Heartbeat("{}", T0 + 10))
    stats = renderer.stats
    assert stats.rate(T0 + 10) == 2.0  # 20 events in the last 10 s
    assert stats.heartbeat(T0 + 10.5, None) == ("♥ 0s", "pulse")
    assert stats.heartbeat(T0 + 13, None) == ("♥ 3s", "ok")
    assert stats.heartbeat(T0 + 21, None) == ("♥ overdue 11s", "overdue")


def test_the_raw_view_shows_the_frames_exactly_as_on_the_wire() -> None:
    renderer = PaneRenderer()
    frames = [wire.encode_frame("custom", wire.to_json({"n": seq}), f"a-{seq}") for seq in (1, 2)]
    renderer.feed(change(State.LIVE, T0))
    for seq in (1, 2):
        renderer.feed(event("custom", {"n": seq}, seq, T0, epoch="a"))
    console = Console(width=100, record=True, color_system=None)
    for entry in renderer.raw.entries:
        console.print(entry.renderable)
    assert console.export_text() == "# live\n" + b"".join(frames).decode()  # blank line after each


def test_the_rate_is_right_at_thousands_of_events_a_second() -> None:
    stats = PaneRenderer().stats
    for n in range(50_000):  # 5,000/s for 10 s (a capped list of times once showed 409.6/s)
        stats.count(event("custom", {}, n, T0 + n / 5000))
    assert stats.rate(T0 + 10) == pytest.approx(5000, rel=0.001)
    assert stats.rate(T0 + 15) == pytest.approx(2500, rel=0.001)  # half the window is quiet
    assert stats.rate(T0 + 30) == 0.0


def test_a_pane_keeps_about_one_object_per_event_for_the_collector_to_walk() -> None:
    # Raw frames are kept as tuples of strings, which the collector stops tracking; an Entry or a
    # row object per event more made every pass of the collector longer at thousands a second.
    renderer = PaneRenderer(max_lines=1000)
    items = [event("log", {"level": "INFO", "message": f"step {n}"}, n, T0) for n in range(1000)]
    gc.collect()
    before = len(gc.get_objects())
    for item in items:
        renderer.feed(item)
    gc.collect()
    tracked_per_event = (len(gc.get_objects()) - before) / len(items)
    assert tracked_per_event < 1.2
    assert len(renderer.raw.entries) == len(renderer.history.entries) == 1000


def test_history_since_a_count_ahead_of_it_is_empty() -> None:
    renderer = PaneRenderer(max_lines=5)
    for n in range(3):
        renderer.feed(event("custom", {"n": n}, n, T0))
    assert [e.plain for e in renderer.history.since(1)] == [
        e.plain for e in renderer.history.entries[1:]]
    assert renderer.history.since(3) == [] and renderer.history.since(7) == []
    assert renderer.raw.since(7) == []


def open_run_and_message() -> PaneRenderer:
    """A pane live with a run at 88% of a step and a message half streamed."""
    renderer = PaneRenderer()
    renderer.feed(change(State.LIVE, T0, status=200))
    renderer.feed(event("RUN_STARTED", {"runId": "r1"}, 1, T0 + 1))
    renderer.feed(event("progress", {"runId": "r1", "step": "drafting", "percent": 88}, 2, T0 + 2))
    renderer.feed(event("TEXT_MESSAGE_CONTENT", {"messageId": "m1", "delta": "Half a"}, 3, T0 + 3))
    assert "88%" in live_text(renderer) and "Half a" in live_text(renderer)
    return renderer


def test_an_other_run_gap_moves_open_runs_and_messages_to_the_history_as_interrupted() -> None:
    renderer = open_run_and_message()
    renderer.feed(change(State.RECONNECTING, T0 + 4, "server closed the connection", delay=1))
    renderer.feed(change(State.CONNECTING, T0 + 5, "resuming after x-3"))
    renderer.feed(change(State.LIVE, T0 + 5, status=200))
    assert "88%" in live_text(renderer)  # a resumed connection may still finish them
    renderer.feed(Gap("x-3", "other-run", "restarted", "y-1", None, T0 + 5))
    assert renderer.live() is None
    lines = drawn(renderer)
    assert "⚠ run r1 interrupted at drafting 88%: the server started another run" in lines
    assert "assistant ▸ Half a\n⚠ message interrupted: the server started another run" in lines


def test_a_connection_without_resume_interrupts_what_was_open_and_a_resumed_one_does_not() -> None:
    renderer = open_run_and_message()
    renderer.feed(Gap("x-1", "evicted", "too old", "x-2", 1, T0 + 4))  # missed events, same run
    renderer.feed(change(State.CONNECTING, T0 + 5, "resuming after x-3"))
    assert renderer.live() is not None
    renderer.feed(change(State.CONNECTING, T0 + 6))  # ctrl+r, or a server that sends no ids
    assert renderer.live() is None
    assert sum(line.endswith("interrupted: reconnected without resume")
               or "88%: reconnected without resume" in line for line in drawn(renderer)) == 2


def test_a_stream_that_ends_leaves_nothing_live() -> None:
    for end in (change(State.ERROR, T0 + 9, "404 Not Found", status=404),
                change(State.ENDED, T0 + 9, "end of the recording")):
        renderer = open_run_and_message()
        renderer.feed(end)
        assert renderer.live() is None
        assert any(line.startswith("⚠ run r1 interrupted") for line in drawn(renderer))


def test_the_heartbeat_age_starts_again_with_every_connection() -> None:
    renderer = PaneRenderer()
    renderer.feed(change(State.LIVE, T0, status=200))
    for beat in (2, 4):
        renderer.feed(Heartbeat("{}", T0 + beat))
    stats = renderer.stats
    assert stats.heartbeat(T0 + 9, None) == ("♥ overdue 5s", "overdue")
    renderer.feed(change(State.RECONNECTING, T0 + 10, "connection refused", delay=3))
    assert stats.heartbeat(T0 + 50, None) == ("♡ -", "none")  # no connection: no age
    renderer.feed(change(State.CONNECTING, T0 + 55, "resuming after x-1"))
    renderer.feed(change(State.LIVE, T0 + 55, status=200))
    assert stats.heartbeat(T0 + 56, None) == ("♡ waiting", "none")  # not `overdue 52s`
    assert stats.heartbeat(T0 + 60, None) == ("♥ overdue 5s", "overdue")  # silent since
    renderer.feed(Heartbeat("{}", T0 + 61))
    assert stats.heartbeat(T0 + 61.5, None) == ("♥ 0s", "pulse")
    assert stats.heartbeat_interval == 2  # the rhythm is never measured across connections
