"""The monitor bench's feeder: scripts that loop without leaving a message open."""

from __future__ import annotations

from bench.feeder import scripts


def test_every_token_script_ends_each_message_it_starts_so_it_can_loop() -> None:
    for topic, steps in scripts().items():
        open_ids: set[str] = set()
        for event, data in steps:
            if event == "TEXT_MESSAGE_START":
                open_ids.add(data["messageId"])
            elif event == "TEXT_MESSAGE_END":
                open_ids.discard(data["messageId"])
        assert not open_ids, topic
    assert any(event == "TEXT_MESSAGE_END" for event, _ in scripts()["tokens-a"])
