"""The whole server in a background thread of a Python program (tests, notebooks, tools).

    with EmbeddedServer(seed=7, speed=2) as server:
        print(server.url, server.topics)
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

from server.app import topic_names
from server.broker import Broker
from server.serving import StreamingServer, uvicorn_config
from server.settings import ServerSettings


class _ThreadServer(StreamingServer):
    """Tells the starting thread as soon as it listens."""

    def __init__(self, config: uvicorn.Config, broker: Broker, ready: threading.Event) -> None:
        super().__init__(config, broker)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class EmbeddedServer:
    """A server on a free 127.0.0.1 port, run by a daemon thread with its own event loop."""

    def __init__(self, seed: int | None = None, speed: float = 1.0, heartbeat: float = 5.0,
                 log_level: str = "warning", **settings: Any) -> None:
        self.settings = ServerSettings(seed=seed, speed=speed, heartbeat=heartbeat, **settings)
        self._log_level = log_level
        self._socket: socket.socket | None = None
        self._server: _ThreadServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._ready = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def topics(self) -> list[str]:
        return topic_names(self.settings)

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        """Serve, and return once the server answers (or raise why it could not start)."""
        sock = self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # bound here, so the port is ours before the thread runs
        self.port = sock.getsockname()[1]
        # log_config=None: leave the host application's logging (a TUI) alone.
        config, broker = uvicorn_config(self.settings, log_level=self._log_level, log_config=None)
        self._server = _ThreadServer(config, broker, self._ready)
        self._thread = threading.Thread(target=self._run, name="sse-demo-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure or not self._server.started:
            self.stop()
            raise RuntimeError(f"embedded server did not start: {self._failure or 'timeout'}")
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported to the caller of start()
            self._failure = exc
        finally:
            self._ready.set()  # also when start-up failed: start() then reports why
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """End every stream, shut down, and wait for the thread."""
        server, loop = self._server, self._loop
        if server is not None and loop is not None and not loop.is_closed():
            server.broker.request_shutdown()
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
