"""One reconnecting SSE stream: connection states, last event id, back-off and a watchdog.

No Textual: the plain mode, the TUI and tests all drive `SSEStream.items()`.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from monitor.client import safejson
from monitor.client.backoff import (
    MAX_RECONNECT_DELAY,
    MIN_RECONNECT_DELAY,
    backoff_delay,
    parse_retry_after,
    seconds_text,
)
from monitor.client.events import Event, Gap, Heartbeat, State, StateChange, StreamItem, StreamStats
from monitor.client.redaction import redact
from monitor.client.sse import (
    DEFAULT_MAX_BYTES,
    EventStreamParser,
    ParsedEvent,
    StreamLimitError,
)
from monitor.client.transfer import ACCEPT_IDENTITY, content_coding, read_start, request_headers
from monitor.client.watchdog import Watchdog

T = TypeVar("T")

# Quiet streams are normal: no read timeout, the watchdog judges silence instead.
HTTP_TIMEOUT = httpx.Timeout(10.0, read=None)
RESPONSE_TIMEOUT = 45.0  # seconds to wait for a response head, unless a watchdog is forced
# A silent stream is never cut before it has shown a rhythm; TCP keepalive finds a dead peer.
KEEPALIVE_OPTIONS: list[tuple[int, int, int]] = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)] + [
    (socket.IPPROTO_TCP, getattr(socket, name), value)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
]
HEALTHY_AFTER = 5.0  # a connection live this long resets the back-off even without events
MAX_REDIRECTS = 20  # as httpx and browsers
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ACT_ON_STATUS = {401: "check credentials", 403: "access denied", 404: "check the URL"}
CONNECTION_REFUSED = "connection refused"
WAITING_FOR_TOPIC = "waiting for topic"  # a 404 after the stream was live: the topic may return
ERROR_BODY_BYTES = 200
ERROR_BODY_SECONDS = 2.0
RESUMING = "resuming after "  # starts the connecting state's reason when Last-Event-ID is sent
RECONNECT_REQUESTED = "reconnect requested"
RECONNECT_AFRESH = "reconnect requested, from scratch (no Last-Event-ID)"
# What h11 accepts as a header value; other ids cannot be sent as Last-Event-ID.
_HEADER_VALUE = re.compile(rb"[\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?")


@dataclass
class StreamConfig:
    """What one stream connects to and how it behaves."""

    url: str  # full URL, topic query parameter already applied
    topic: str | None = None  # label for output
    headers: dict[str, str] = field(default_factory=dict)
    last_event_id: str = ""  # start from here
    reconnect_delay: float = 3.0  # reconnection time until the server sends retry:
    max_backoff: float = 30.0
    reconnect: bool = True  # False: end when the stream ends (--no-reconnect)
    # Silence before the connection is replaced: None = auto (armed once the stream has shown a
    # rhythm of heartbeats or comments), 0 = never.
    watchdog: float | None = None
    max_line_bytes: int = DEFAULT_MAX_BYTES
    max_event_bytes: int = DEFAULT_MAX_BYTES
    clock: Callable[[], float] = time.time  # injected for deterministic tests and snapshots


def new_client() -> httpx.AsyncClient:
    """An HTTP client for streams: no read timeout, TCP keepalive on every connection."""
    return httpx.AsyncClient(
        timeout=HTTP_TIMEOUT,
        transport=httpx.AsyncHTTPTransport(socket_options=KEEPALIVE_OPTIONS),
    )


def with_topic(url: str, topic: str) -> str:
    """`url` with its `topic` query parameter set to `topic` (replacing any there)."""
    return str(httpx.URL(url).copy_set_param("topic", topic))


class StreamStopped(Exception):
    """The stream ended for good; carries the final state change."""

    def __init__(self, change: StateChange) -> None:
        super().__init__(change.reason)
        self.change = change


class _Retry(Exception):
    """The connection ended; connect again (after `after` seconds, when given).

    `kind` is "failed" (an error), "ended" (the server closed the stream cleanly) or
    "requested" (reconnect() was called).
    """

    def __init__(
        self, reason: str, kind: str = "failed", after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason, self.kind, self.after, self.status = reason, kind, after, status


class _Interrupted(Exception):
    """reconnect() or stop() was called while the stream was waiting."""


class SSEStream:
    """One SSE stream that reconnects and resumes until stopped.

    `items()` yields Event, Heartbeat, Gap and StateChange items. `reconnect()` and `stop()` may be
    called from any task of the same event loop at any time.
    """

    def __init__(self, config: StreamConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.stats = StreamStats(last_event_id=config.last_event_id)
        self.state = State.CONNECTING
        self.last_event_id = config.last_event_id
        self.retry_ms: int | None = None
        self.heartbeat_interval: float | None = None  # estimated from heartbeats seen
        self.watchdog = Watchdog(config.watchdog)
        self._client = client
        self._stop_reason: str | None = None
        self._reconnect_request: tuple[str, bool] | None = None  # (reason, resume)
        self._scope: asyncio.Timeout | None = None  # the wait reconnect() and stop() cut short
        self._last_heartbeat_at: float | None = None  # monotonic, on the current connection
        self._dispatched = False  # the current connection has delivered an item
        self._was_live = False  # some connection of this stream was answered with a stream
        self._live_since: float | None = None  # monotonic time the current connection went live
        self._redirect_note = ""  # said with the next state after a cross-origin redirect
        self._redirect_noted = False  # said once per stream, not at every reconnect
        self.running = False  # items() is in progress

    # -- control, from any task of the loop ----------------------------------------------------

    def reconnect(self, resume: bool = True) -> None:
        """Drop the current connection now and reconnect at once; resume=False forgets the id."""
        self._reconnect_request = (RECONNECT_REQUESTED if resume else RECONNECT_AFRESH, resume)
        self._interrupt()

    def stop(self, reason: str = "stopped by user") -> None:
        """End the stream: items() yields StateChange(STOPPED) and returns."""
        self._stop_reason = reason
        self._interrupt()

    def _interrupt(self) -> None:
        scope = self._scope
        if scope is not None and not scope.expired():
            with suppress(RuntimeError):  # the wait is already ending: the flag is seen next
                scope.reschedule(asyncio.get_running_loop().time())

    async def _wait(self, awaitable: Awaitable[T], seconds: float | None) -> T:
        """Await, cut short after `seconds` (TimeoutError) or by a control call (_Interrupted)."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        if self._control_pending():
            _close_awaitable(awaitable)
            raise _Interrupted
        try:
            async with asyncio.timeout_at(deadline) as self._scope:
                return await awaitable
        except TimeoutError:
            if self._control_pending():
                raise _Interrupted from None
            raise
        finally:
            self._scope = None

    def _control_pending(self) -> bool:
        return self._stop_reason is not None or self._reconnect_request is not None

    # -- the loop --------------------------------------------------------------------------------

    async def items(self) -> AsyncIterator[StreamItem]:
        """Connect, reconnect and resume, yielding items until the stream stops for good.

        After it has returned, calling it again starts the stream afresh.
        """
        self._stop_reason, self._reconnect_request = None, None
        self.running = True
        client = self._client or new_client()
        failures = 0  # consecutive connections that ended before they were healthy
        try:
            while True:
                yield self._change(State.CONNECTING, reason=self._resume_note())
                try:
                    async with aclosing(self._connection(client)) as connection:
                        async for item in connection:
                            yield item
                except _Retry as retry:
                    failures = 1 if self._was_healthy() or retry.kind == "requested" else (
                        failures + 1
                    )
                    if retry.kind != "requested" and not self.config.reconnect:
                        raise StreamStopped(self._no_reconnect_change(retry)) from None
                    delay = self._reconnect_delay(retry, failures)
                    self.stats.reconnects += 1
                    yield self._change(
                        State.RECONNECTING, retry.reason, attempt=failures, delay=delay,
                        status=retry.status,
                    )
                    if not await self._sleep(delay):
                        failures = 0
        except StreamStopped as stopped:
            yield stopped.change
        finally:
            self.running = False
            if self._client is None:
                await client.aclose()

    def _was_healthy(self) -> bool:
        """Whether the connection that just ended resets the back-off."""
        if self._dispatched:
            return True
        return self._live_since is not None and time.monotonic() - self._live_since >= HEALTHY_AFTER

    def _reconnect_delay(self, retry: _Retry, attempt: int) -> float:
        if retry.kind == "requested":
            return 0.0
        base = self.config.reconnect_delay if self.retry_ms is None else self.retry_ms / 1000
        base = min(base, MAX_RECONNECT_DELAY)
        if retry.kind == "ended" and self._dispatched:
            return base  # it delivered and ended cleanly: the server's time, as browsers wait
        # A failure: never a tight loop, even after `retry: 0` or `Retry-After: 0`.
        delay = backoff_delay(attempt, max(base, MIN_RECONNECT_DELAY), self.config.max_backoff)
        return delay if retry.after is None else max(delay, retry.after)

    async def _sleep(self, delay: float) -> bool:
        """Wait before reconnecting; False when reconnect() cut it short (stop() raises)."""
        try:
            await self._wait(asyncio.sleep(delay), None)
        except _Interrupted:
            self._take_control()
            return False
        return True

    def _take_control(self) -> str:
        """Act on a pending stop() (raise) or reconnect() (return its reason)."""
        if self._stop_reason is not None:
            raise StreamStopped(self._stop_change())
        assert self._reconnect_request is not None
        reason, resume = self._reconnect_request
        self._reconnect_request = None
        if not resume:
            self.last_event_id = self.stats.last_event_id = ""
        return reason

    async def _connection(self, client: httpx.AsyncClient) -> AsyncIterator[StreamItem]:
        """One connection's items; it always ends by raising _Retry or StreamStopped."""
        self._dispatched, self._live_since = False, None
        response: httpx.Response | None = None
        try:
            response = await self._open(client)
            self._live_since = time.monotonic()
            self._was_live = True
            yield self._change(State.LIVE, status=response.status_code)
            parser = EventStreamParser(
                self.last_event_id, self.config.max_line_bytes, self.config.max_event_bytes
            )
            self._last_heartbeat_at = None
            self.watchdog.new_connection()
            chunks = response.aiter_raw()  # never decompressed: _open refused any coding
            while True:
                watchdog = self.watchdog.timeout()
                try:
                    chunk = await self._wait(anext(chunks), watchdog)
                except StopAsyncIteration:
                    raise _Retry("stream ended by the server", kind="ended") from None
                except TimeoutError:
                    raise _Retry(f"no data for {seconds_text(watchdog or 0)} (watchdog)") from None
                self.stats.bytes += len(chunk)
                self.stats.last_received = self.config.clock()
                try:
                    parsed = parser.feed(chunk)
                except StreamLimitError as exc:
                    raise StreamStopped(self._change(State.ERROR, str(exc))) from None
                if parser.retry is not None:
                    self.retry_ms = parser.retry
                if not parsed and chunk.lstrip(b"\r\n")[:1] in (b":", b""):
                    self.watchdog.keepalive()  # a comment or an empty line: a ping
                for event in parsed:
                    # Per event, so that a reconnect between two events of a chunk loses neither.
                    self.last_event_id = self.stats.last_event_id = event.id
                    self._dispatched = True
                    yield self._item(event)
                    if self._control_pending():
                        raise _Interrupted
                self.last_event_id = self.stats.last_event_id = parser.last_event_id
        except _Interrupted:
            raise _Retry(self._take_control(), kind="requested") from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            raise StreamStopped(self._change(State.ERROR, f"cannot request: {exc}")) from None
        except httpx.HTTPError as exc:
            raise _Retry(describe_http_error(exc)) from None
        finally:
            if response is not None:
                await response.aclose()

    async def _open(self, client: httpx.AsyncClient) -> httpx.Response:
        """Send the request; return a response that is a stream, else raise _Retry/StreamStopped."""
        try:
            user_headers = request_headers(self.config.headers)
        except ValueError as exc:
            raise StreamStopped(self._change(State.ERROR, f"cannot request: {exc}")) from None
        headers: dict[str, str | bytes] = {
            "Accept": "text/event-stream", "Cache-Control": "no-store", **ACCEPT_IDENTITY,
            **user_headers,
        }
        last_id = _header_value(self.last_event_id)
        if last_id:
            headers["Last-Event-ID"] = last_id
        request = client.build_request(
            "GET", self.config.url, headers=headers, timeout=HTTP_TIMEOUT
        )
        wait = self.config.watchdog or RESPONSE_TIMEOUT
        try:
            response = await self._wait(self._send(client, request), wait)
        except TimeoutError:
            raise _Retry(f"no response for {seconds_text(wait)} (watchdog)") from None
        status = response.status_code
        if status == 204:
            await response.aclose()
            raise StreamStopped(self._change(
                State.STOPPED, "server answered 204 No Content (stop reconnecting)", status=204
            ))
        if not 200 <= status < 300:
            if status == 404 and self._was_live and self.config.reconnect:
                # A topic this stream followed is gone, as after a restart of a server that keeps
                # topics in memory: it comes back when its publisher publishes again.
                text = await self._error_text(response, hint=False)
                raise _Retry(f"{WAITING_FOR_TOPIC} ({text})", status=status)
            text = await self._error_text(response)
            if status in RETRYABLE_STATUS:
                after = parse_retry_after(response.headers.get("retry-after"), self.config.clock())
                raise _Retry(text, after=after, status=status)
            raise StreamStopped(self._change(State.ERROR, text, status=status))
        content_type = response.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "text/event-stream":
            text = await self._error_text(response)
            raise StreamStopped(self._change(
                State.ERROR,
                f"not an event stream: Content-Type {content_type or 'missing'!r} "
                f"(expected text/event-stream); {text}",
                status=status,
            ))
        if coding := content_coding(response):
            await response.aclose()
            raise StreamStopped(self._change(
                State.ERROR,
                f"the server compressed the stream (Content-Encoding: {coding[:40]}) though the "
                "monitor asked for identity; compressed streams are refused",
                status=status,
            ))
        return response

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        """Send, following redirects as EventSource does, but to another origin without the
        headers the user gave (httpx would drop only Authorization and Cookie)."""
        origin = _origin(request.url)
        for _ in range(MAX_REDIRECTS + 1):
            response = await client.send(request, stream=True, follow_redirects=False)
            if response.next_request is None:
                return response
            await response.aclose()
            request = response.next_request
            if _origin(request.url) != origin:
                self._strip_user_headers(request)
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)

    def _strip_user_headers(self, request: httpx.Request) -> None:
        for name in (*self.config.headers, "Authorization"):
            request.headers.pop(name, None)
        if self.config.headers and not self._redirect_noted:
            self._redirect_noted = True
            self._redirect_note = (
                f"redirected to another origin, {_origin_text(request.url)}: "
                f"{', '.join(self.config.headers)} not sent there"
            )

    async def _error_text(self, response: httpx.Response, hint: bool = True) -> str:
        """`404 Not Found (check the URL): <first bytes of the body>`, on one line."""
        try:
            body = b"" if content_coding(response) else await read_start(
                response, ERROR_BODY_BYTES, ERROR_BODY_SECONDS)
        finally:
            await response.aclose()
        text = f"{response.status_code} {response.reason_phrase}".strip()
        if hint and response.status_code in ACT_ON_STATUS:
            text += f" ({ACT_ON_STATUS[response.status_code]})"
        snippet = " ".join(body.decode("utf-8", "replace").split())
        return f"{text}: {snippet[:120]}" if snippet else text

    # -- items -----------------------------------------------------------------------------------

    def _item(self, event: ParsedEvent) -> StreamItem:
        now = self.config.clock()
        if event.type == "heartbeat":
            self._note_heartbeat()
            self.stats.heartbeats += 1
            self.stats.last_heartbeat = now
            info = _json_object(event.data)
            return Heartbeat(event.data, now, info or {}, event.raw)
        if event.type == "gap":
            info = _json_object(event.data)
            if info is not None and isinstance(info.get("reason"), str):
                self.stats.gaps += 1
                return Gap(
                    requested=_str_or_none(info.get("requested")),
                    reason=info["reason"],
                    detail=str(info.get("detail") or ""),
                    resume_from=_str_or_none(info.get("resume_from")),
                    missed=info["missed"] if isinstance(info.get("missed"), int) else None,
                    received=now, id=event.id, raw=event.raw, data=event.data,
                )
        self.stats.events += 1
        return Event(event.type, event.data, event.id, now, event.raw, event.retry)

    def _note_heartbeat(self) -> None:
        now = self.watchdog.keepalive()
        if self._last_heartbeat_at is not None:
            self.heartbeat_interval = now - self._last_heartbeat_at
        self._last_heartbeat_at = now

    def _change(self, state: State, reason: str = "", **details: Any) -> StateChange:
        self.state = state
        if self._redirect_note and state is not State.CONNECTING:
            # With the first state the redirected request leads to: live, or why it failed.
            reason = f"{reason}; {self._redirect_note}" if reason else self._redirect_note
            self._redirect_note = ""
        # Reasons quote server bodies and URLs: no credential may reach a screen or a log.
        return StateChange(state, self.config.clock(), redact(reason), **details)

    def _stop_change(self) -> StateChange:
        return self._change(State.STOPPED, self._stop_reason or "stopped")

    def _no_reconnect_change(self, retry: _Retry) -> StateChange:
        """The final state with reconnecting off: a clean end is normal, a failure an error."""
        if retry.kind == "ended":
            return self._change(State.STOPPED, retry.reason)
        return self._change(State.ERROR, retry.reason, status=retry.status)

    def _resume_note(self) -> str:
        if self.last_event_id and _header_value(self.last_event_id) is None:
            return "last event id cannot be sent as a header; connecting without it"
        return f"{RESUMING}{self.last_event_id}" if self.last_event_id else ""


def _header_value(last_event_id: str) -> bytes | None:
    """The id as header bytes (UTF-8, so non-ASCII ids still reach the server), or None."""
    if not last_event_id:
        return None
    value = last_event_id.encode("utf-8", "replace")
    return value if _HEADER_VALUE.fullmatch(value) else None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _origin_text(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def describe_http_error(exc: httpx.HTTPError) -> str:
    """A short reason for a transport failure: `connection refused`, `connection lost: ...`."""
    if isinstance(exc, httpx.ConnectError):
        causes: list[BaseException] = []
        cause: BaseException | None = exc
        while cause is not None and len(causes) < 10:
            causes.append(cause)
            cause = cause.__cause__ or cause.__context__
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return CONNECTION_REFUSED
        return f"cannot connect: {causes[-1]}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {exc}" if str(exc) else "timed out"
    return f"connection lost: {exc}" if str(exc) else f"connection lost ({type(exc).__name__})"


def _close_awaitable(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _json_object(data: str) -> dict[str, Any] | None:
    try:
        value = safejson.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class ItemSource(Protocol):
    """What a pane needs of a stream: `SSEStream`, a stream process's, or a recording's."""

    config: StreamConfig

    def items(self) -> AsyncIterator[StreamItem]: ...

    def reconnect(self, resume: bool = True) -> None: ...

    def stop(self, reason: str = "stopped by user") -> None: ...
