"""`sse-monitor` with no URL, started before the server: it waits, then opens a pane per topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from textual.widgets import Label

from monitor.cli import discovered_configs, parse_args
from monitor.client.events import State
from monitor.client.stream import StreamConfig
from monitor.client.topics import NO_SERVER_HINT, TopicsPending
from monitor.tui.app import MonitorApp
from tests.client.rawserver import RawServer, respond, stream
from tests.client.test_stream_raw import head
from tests.server.helpers import wait_for
from tests.servers import ServerProcess, free_port


@pytest.mark.anyio
async def test_the_tui_starts_at_once_waits_for_the_server_then_opens_its_topics(
    server_factory: Callable[..., ServerProcess],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/stream"
    args = parse_args([])
    app = MonitorApp([], discovery=lambda say: discovered_configs(url, args, say))
    async with app.run_test(size=(120, 30)) as pilot:
        notice = app.screen.query_one("#empty", Label)

        def says() -> str:
            return str(notice.render())

        await wait_for(lambda: "connection refused" in says(), within=10)
        assert f"Waiting for topics at http://127.0.0.1:{port}/topics" in says()
        assert "start sse-demo-server, or use --demo" in says()
        assert notice.display and not app.screen.panes

        server_factory("--seed", "7", "--heartbeat", "0.5", port=port)
        await wait_for(lambda: len(app.screen.panes) == 3, within=40)
        panes = app.screen.panes
        assert {pane.source.config.topic for pane in panes} == {"progress", "logs", "tokens"}
        await wait_for(lambda: all(pane.state is State.LIVE for pane in panes), within=20)
        await pilot.pause()
        assert not notice.display
        assert "error" not in {pane.state.value for pane in panes}


def test_the_waiting_view(snap_compare: Callable[..., bool]) -> None:
    pending = TopicsPending("http://127.0.0.1:8000/topics",
                            f"connection refused ({NO_SERVER_HINT})", attempt=3, delay=4.0)

    async def discovery(_say: Callable[[str], None]) -> AsyncIterator[
            TopicsPending | list[StreamConfig]]:
        yield pending
        await asyncio.Event().wait()  # still waiting when the view is taken

    assert snap_compare(MonitorApp([], discovery=discovery), terminal_size=(100, 24))


@pytest.mark.anyio
async def test_the_tui_says_how_many_topics_it_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.client.topics.MAX_TOPICS", 3)
    monkeypatch.setattr("monitor.cli.MAX_TOPICS", 3)
    names = ",".join(f'{{"name": "t{n}"}}' for n in range(150))
    answer = f'{{"topics": [{names}]}}'.encode()
    listing = respond(head("200 OK", "Content-Type: application/json",
                           f"Content-Length: {len(answer)}"), answer)
    async with RawServer([listing, stream(hold=30)]) as server:
        url = f"{server.url}/stream"
        args = parse_args([])
        app = MonitorApp([], discovery=lambda say: discovered_configs(url, args, say))
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await wait_for(lambda: len(app.screen.panes) == 3, within=10)
            await pilot.pause()
            told = [str(note.message) for note in app._notifications]
    assert any("lists 150 topics" in note and "147 left out" in note for note in told), told
