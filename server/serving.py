"""How the server runs on uvicorn: the config with our connection guard, and a clean shutdown.

Shared by `server.cli` and `server.embedded`; below both, above the app.
"""

from __future__ import annotations

from types import FrameType
from typing import Any

import uvicorn

from server.access_log import logging_config
from server.app import create_app
from server.broker import Broker
from server.connections import ConnectionLimits, GuardedConfig
from server.settings import ServerSettings

SHUTDOWN_GRACE = 1.5  # seconds uvicorn waits for connections after the broker ended the streams


class StreamingServer(uvicorn.Server):
    """uvicorn waits for open responses before shutting down; end the streams first."""

    def __init__(self, config: uvicorn.Config, broker: Broker) -> None:
        super().__init__(config)
        self.broker = broker

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.broker.request_shutdown()
        super().handle_exit(sig, frame)


def uvicorn_config(settings: ServerSettings, *, host: str = "127.0.0.1", port: int = 8000,
                   log_level: str = "info", connection_limits: ConnectionLimits | None = None,
                   forwarded_allow_ips: tuple[str, ...] = (),
                   **options: Any) -> tuple[uvicorn.Config, Broker]:
    """A uvicorn config serving a new app with these settings, and that app's broker.

    X-Forwarded-For and X-Forwarded-Proto count only from `forwarded_allow_ips` (none: never).
    """
    app = create_app(settings)
    options.setdefault("access_log", False)  # given to Config: set later, it would log nothing
    options.setdefault("log_config", logging_config())
    config = GuardedConfig(app, host=host, port=port, log_level=log_level,
                           timeout_graceful_shutdown=SHUTDOWN_GRACE, lifespan="on",
                           connection_limits=connection_limits,
                           **forwarded_options(forwarded_allow_ips), **options)
    return config, app.state.broker


def forwarded_options(allow_ips: tuple[str, ...]) -> dict[str, Any]:
    """uvicorn's proxy-header options: off unless some addresses are trusted."""
    if not allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(allow_ips)}
