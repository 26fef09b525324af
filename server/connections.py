"""Connections that have not sent a whole request head: a deadline, a size cap and a count cap.

uvicorn holds a silent connection for ever, buffers a request head of any size and accepts
until the process runs out of files. `GuardedHttpToolsProtocol` is uvicorn's own httptools
protocol with those three bounds added; everything after the head is uvicorn's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from weakref import WeakKeyDictionary

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

LIMITS_ENV = "SSE_CONNECTION_LIMITS"  # the limits as JSON: how the CLI hands them to workers
EVICTION_GRACE = 1.0  # seconds a waiting connection is spared: a burst of new clients is no attack
LINGER = 2.0  # seconds a refused connection is read and discarded, so that its answer arrives
MAX_PENDING_AUTO = 1024  # the automatic --max-pending-connections, at most
log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long and how large a request head may be, and how many may be awaited at once."""

    head_timeout: float = 10.0  # seconds, from the connection or from the previous response
    max_head_bytes: int = 64 << 10  # request line and headers
    max_pending: int | None = None  # connections waiting for a head; None: see pending_cap()

    def __post_init__(self) -> None:
        if self.head_timeout <= 0 or self.max_head_bytes <= 0:
            raise ValueError("head_timeout and max_head_bytes must be positive")
        if self.max_pending is not None and self.max_pending < 1:
            raise ValueError("max_pending must be at least 1")

    def pending_cap(self) -> int:
        """max_pending, or a quarter of the open-files limit (at most MAX_PENDING_AUTO)."""
        if self.max_pending is not None:
            return self.max_pending
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return MAX_PENDING_AUTO
        return max(1, min(MAX_PENDING_AUTO, soft // 4))

    def to_env(self) -> dict[str, str]:
        return {LIMITS_ENV: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ConnectionLimits:
        return cls(**json.loads(environ.get(LIMITS_ENV) or "{}"))


class GuardedConfig(uvicorn.Config):
    """uvicorn's Config serving with GuardedHttpToolsProtocol under these limits."""

    def __init__(self, app: Any, *, connection_limits: ConnectionLimits | None = None,
                 **options: Any) -> None:
        options.setdefault("http", GuardedHttpToolsProtocol)
        super().__init__(app, **options)
        self.connection_limits = connection_limits or ConnectionLimits()


class PendingHeads:
    """The connections waiting for a request head, oldest first, about `cap` of them.

    Over the cap, the oldest is closed once it has waited EVICTION_GRACE, so that a crowd of
    clients connecting at once keeps its connections; over twice the cap, the oldest whatever
    its age, so that a slowloris client reconnecting fast cannot take every file.
    """

    def __init__(self, limits: ConnectionLimits, loop: asyncio.AbstractEventLoop) -> None:
        self.limits = limits
        self.cap = limits.pending_cap()
        self._loop = loop  # its time() is the clock, its call_later the timer
        self._since: dict[GuardedHttpToolsProtocol, float] = {}
        self._sweep: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._since)

    def add(self, connection: GuardedHttpToolsProtocol) -> None:
        self._since.pop(connection, None)
        self._since[connection] = self._loop.time()
        self._evict()

    def discard(self, connection: GuardedHttpToolsProtocol) -> None:
        self._since.pop(connection, None)

    def _swept(self) -> None:
        self._sweep = None
        self._evict()

    def _evict(self) -> None:
        while len(self._since) > self.cap:
            oldest, since = next(iter(self._since.items()))
            wait = since + EVICTION_GRACE - self._loop.time()
            if wait > 0 and len(self._since) <= 2 * self.cap:
                if self._sweep is None:
                    self._sweep = self._loop.call_later(wait, self._swept)
                return
            del self._since[oldest]
            oldest.evict()


_pending_by_server: WeakKeyDictionary[ServerState, PendingHeads] = WeakKeyDictionary()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline, a size cap and a count cap on heads.

    It hooks uvicorn's connection_made, connection_lost, data_received, on_headers_complete,
    on_response_complete and send_400_response, because uvicorn has no setting for any of this
    (tests/hardening/test_connections.py pins those hooks). The server always runs httptools:
    uvicorn[standard] brings it, and GuardedConfig names this class.
    """

    def __init__(self, config: uvicorn.Config, server_state: ServerState,
                 app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        pending = _pending_by_server.get(server_state)
        if pending is None:  # the first connection of this server
            limits = (config.connection_limits if isinstance(config, GuardedConfig)
                      else ConnectionLimits.from_env())  # a worker of `--workers N`
            pending = _pending_by_server[server_state] = PendingHeads(limits, self.loop)
        self.pending = pending
        self.limits = pending.limits
        self.head_room = 0  # bytes the awaited head may still take
        self.waiting = False  # for a request head
        self.refused = False  # answered with an error; what still comes is discarded
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if not self.waiting:
            super().data_received(data)
            return
        # The parser sees at most max_head_bytes of a head: uvicorn and httptools buffer all.
        head, rest = data[:self.head_room], data[self.head_room:]
        self.head_room -= len(head)
        super().data_received(head)
        if self.refused or self.transport.is_closing():
            return
        if self.waiting:
            if self.head_room <= 0:
                self._refuse(431, f"the request head is larger than "
                                  f"{self.limits.max_head_bytes} bytes")
        elif rest:
            self.data_received(rest)

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._await_head()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse: JSON, like every error, for a head."""
        if self.waiting:
            self._refuse(400, msg)
        else:  # a response may be under way: uvicorn's own answer and close
            super().send_400_response(msg)

    def evict(self) -> None:
        """Closed to make room: it waited longest for a head while too many waited."""
        log.debug("closing a connection that sent no whole request head: too many wait")
        self._stop_waiting()
        self.transport.close()

    def _await_head(self) -> None:
        self.waiting = True
        self.head_room = self.limits.max_head_bytes
        self.deadline = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)
        self.pending.add(self)

    def _stop_waiting(self) -> None:
        self.waiting = False
        self.pending.discard(self)
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _head_timed_out(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.head_room == self.limits.max_head_bytes:  # not a byte of it: just close
            self._stop_waiting()
            self.transport.close()
            return
        self._refuse(408, f"the request head did not arrive within "
                          f"{self.limits.head_timeout:g} seconds")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `{"error": message}` and close, reading (and dropping) for LINGER seconds."""
        log.debug("refusing a request: %s", message)
        if self.deadline is not None:
            self.deadline.cancel()
        self.refused = True  # still waiting, hence evictable, while it lingers
        body = json.dumps({"error": message}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\n",
                 b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        # Closed with unread bytes, the socket would reset and the client could lose the answer.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.deadline = self.loop.call_later(LINGER, self.transport.close)
        else:
            self.transport.close()
