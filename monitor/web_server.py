"""The web server of `sse-monitor --web`: textual-serve with our page and a guard.

textual-serve has no auth: the guard answers only the Host names of loopback (unless exposed),
and opens the monitor's WebSocket only to a page of its own origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from textual_serve.server import Server

PAGE = Path(__file__).resolve().parent / "web_page"  # our app_index.html: nothing fetched
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guard(allowed_hosts: frozenset[str] | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware: only the allowed Host names (None: any), and the WebSocket only from its own
    page, since a browser lets any site open a WebSocket to loopback."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.host
        if allowed_hosts is not None and host not in allowed_hosts:
            raise web.HTTPForbidden(text="sse-monitor --web: unknown Host\n")
        if request.path == "/ws" and request.headers.get("Origin") not in (
                f"http://{host}", f"https://{host}"):
            raise web.HTTPForbidden(text="sse-monitor --web: the monitor's socket is for its "
                                         "own page\n")
        return await handler(request)

    return middleware


def loopback_hosts(host: str, port: int) -> frozenset[str]:
    """The Host headers a browser sends to a server on loopback: a rebinding name is none."""
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    return frozenset(f"{name}:{port}" for name in names)


class MonitorServer(Server):
    """textual-serve's server with our page, our start-up line and the guard middleware."""

    def __init__(self, command: str, host: str, port: int, exposed: bool) -> None:
        super().__init__(command, host=host, port=port, title="sse-monitor", templates_path=PAGE)
        self.allowed_hosts = None if exposed else loopback_hosts(host, port)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(guard(self.allowed_hosts))
        return app

    async def on_startup(self, app: web.Application) -> None:
        # textual-serve would print the command; ours names the address only
        self.console.print(f"sse-monitor --web: open {self.public_url} (Ctrl+C to stop)",
                           markup=False, highlight=False)
