"""Where topics' events live: in this process's memory, or in Redis shared by many processes."""

from __future__ import annotations

from server.backends.base import Backend
from server.backends.memory import MemoryBackend

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_backend(url: str | None, backlog: int) -> Backend:
    """The backend a `--backend` value names: None or "memory", or a Redis URL."""
    if url in (None, "", "memory"):
        return MemoryBackend(backlog)
    if url.startswith(REDIS_SCHEMES):
        try:  # the optional extra: `pip install 'sse-monitor[redis]'`
            from server.backends.redis import RedisBackend
        except ImportError as exc:
            raise ValueError(f"{url!r} needs the Redis client: pip install 'sse-monitor[redis]'"
                             f" ({exc})") from None
        return RedisBackend(url, backlog)  # ValueError for a malformed URL
    raise ValueError(f"unknown backend {url!r}: expected memory or redis://HOST:PORT/DB")
