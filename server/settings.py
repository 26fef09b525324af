"""Every tunable of a server run, shared by the CLI, the embedded server and tests."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from server.auth import header_bytes

SETTINGS_ENV = "SSE_SETTINGS"  # every field as JSON: how the CLI hands settings to uvicorn workers
BACKEND_ENV = "SSE_BACKEND"  # the backend URL alone, e.g. redis://HOST:PORT/DB
# Largest events a subscriber's queue holds at least: a reader keeping up is never dropped.
QUEUE_EVENTS = 4


@dataclass(frozen=True, slots=True)
class ServerSettings:
    backlog: int = 1000  # events retained per topic
    backlog_bytes: int = 8 << 20  # bytes retained per topic (oldest evicted first)
    total_backlog_bytes: int = 256 << 20  # bytes retained by all topics of a process
    heartbeat: float = 5.0  # seconds between heartbeats; 0 turns them off
    retry_ms: int = 3000  # the `retry:` sent at the start of each stream
    speed: float = 1.0  # simulator speed factor
    seed: int | None = None  # None: a random seed, logged so a run can be repeated
    simulators: bool = True  # run the progress, logs and tokens topics
    backend: str = "memory"  # where events live: memory, or redis://HOST:PORT/DB (shared)
    ticker: float = 0.0  # events/s of the `ticker` load topic; 0: no ticker
    replay: str | None = None  # a recording whose events are served again (--replay FILE)
    queue_bytes: int = 1 << 20  # a subscriber's unsent bytes before its stream is closed
    max_event_bytes: int = 256 << 10  # largest POST body accepted
    max_topics: int = 1000  # topics this process holds before idle ones give way to new ones
    # Hardening (see server.auth and server.limits); tokens stay out of repr, hence out of logs.
    tokens: tuple[str, ...] = field(default=(), repr=False)  # bearer tokens to subscribe
    publish_tokens: tuple[str, ...] = field(default=(), repr=False)  # to publish; () = tokens
    max_streams: int = 10_000  # open streams in total
    max_streams_per_client: int = 5_000  # open streams per client address
    publish_rate: float = 1000.0  # publish requests a second per client address; 0: unlimited
    write_timeout: float = 30.0  # seconds a write may wait on a stalled reader; 0: forever
    send_buffer: int = 0  # SO_SNDBUF of each stream's socket; 0: the kernel's autotuning
    cors_origins: tuple[str, ...] = ()  # browser origins allowed, with credentials; () = CORS off
    allow_query_token: bool = False  # accept ?access_token= (weaker: URLs are logged and kept)

    def __post_init__(self) -> None:
        for name in ("tokens", "publish_tokens", "cors_origins"):  # lists when read from JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = {
            "backlog must be at least 1": self.backlog >= 1,
            "heartbeat must be 0 (off) or positive": self.heartbeat >= 0,
            "retry_ms must not be negative": self.retry_ms >= 0,
            "speed must be positive": self.speed > 0,
            "ticker must not be negative": self.ticker >= 0,
            "queue_bytes must be positive": self.queue_bytes > 0,
            "max_event_bytes must be positive": self.max_event_bytes > 0,
            f"queue bytes (--queue-bytes) must be at least {QUEUE_EVENTS} times the largest event "
            "(--max-event-bytes)": self.queue_bytes >= QUEUE_EVENTS * self.max_event_bytes,
            "a topic's backlog bytes (--backlog-bytes) must hold the largest event "
            "(--max-event-bytes)": self.backlog_bytes >= self.max_event_bytes,
            "total backlog bytes (--total-backlog-bytes) must hold a topic's "
            "(--backlog-bytes)": self.total_backlog_bytes >= self.backlog_bytes,
            "max_topics must be at least 1": self.max_topics >= 1,
            "max_streams must be at least 1": self.max_streams >= 1,
            "max_streams_per_client must be at least 1": self.max_streams_per_client >= 1,
            "publish_rate must not be negative": self.publish_rate >= 0,
            "write_timeout must not be negative": self.write_timeout >= 0,
            "send_buffer must not be negative": self.send_buffer >= 0,
        }
        for message, ok in checks.items():
            if not ok:
                raise ValueError(message)
        for token in (*self.tokens, *self.publish_tokens):
            header_bytes(token)  # ValueError for a token no header carries as it is
        for origin in self.cors_origins:
            if (problem := origin_problem(origin)) is not None:
                raise ValueError(f"CORS origin {origin[:80]!r}: {problem}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServerSettings:
        """Settings from SSE_SETTINGS (JSON) and SSE_BACKEND, for `uvicorn --factory` workers."""
        fields = json.loads(environ.get(SETTINGS_ENV) or "{}")
        if environ.get(BACKEND_ENV):
            fields["backend"] = environ[BACKEND_ENV]
        return cls(**fields)

    def to_env(self) -> dict[str, str]:
        return {SETTINGS_ENV: json.dumps(asdict(self)), BACKEND_ENV: self.backend}


def origin_problem(origin: str) -> str | None:
    """Why `origin` is not one exact browser origin (scheme://host[:port]), or None."""
    if origin == "*":
        return ("'*' would let every site read the streams with the visitor's cookie; "
                "name each origin")
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected scheme://host[:port] with http or https"
    if parts.path or parts.query or parts.fragment or parts.username or "#" in origin:
        return "an origin has no path, query, user or trailing slash: scheme://host[:port]"
    if origin != origin.lower():
        return "write it in lower case, as browsers send it"
    return None
