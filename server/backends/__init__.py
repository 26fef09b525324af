"""Where topics' events live: in this process's memory, or in Redis shared by many processes."""

from __future__ import annotations

from server.backends.base import Backend
from server.backends.memory import MemoryBackend

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_backend(url: str | None, backlog: int, backlog_bytes: int = 8 << 20,
                 total_backlog_bytes: int = 256 << 20) -> Backend:
    """The backend a `--backend` value names: None or "memory", or a Redis URL.

    Redis holds the per-topic budgets itself; the process's total does not apply to its memory.
    """
    if url in (None, "", "memory"):
        return MemoryBackend(backlog, backlog_bytes=backlog_bytes,
                             total_backlog_bytes=total_backlog_bytes)
    if url.startswith(REDIS_SCHEMES):
        try:  # the optional extra: `pip install 'sse-monitor[redis]'`
            from server.backends.redis import RedisBackend
        except ImportError as exc:
            raise ValueError(f"{url!r} needs the Redis client: pip install 'sse-monitor[redis]'"
                             f" ({exc})") from None
        return RedisBackend(url, backlog, backlog_bytes=backlog_bytes)  # ValueError: bad URL
    raise ValueError(f"unknown backend {url!r}: expected memory or redis://HOST:PORT/DB")
