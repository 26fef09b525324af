"""The ASGI response of `GET /stream`: one send loop that writes a subscriber's bytes as they come.

Not Starlette's StreamingResponse: it would add a task group per stream on uvicorn (ASGI spec 2.3);
here a single receive task per stream watches for the disconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server import wire
from server.broker import Broker, Subscription

ABORT_KEY = "sse_demo_server.abort"  # scope key: drops the connection (see transport_abort)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _transport(send: Send) -> asyncio.BaseTransport | None:
    # ASGI exposes no connection; uvicorn's `send` is a method of a cycle that holds it.
    return getattr(getattr(send, "__self__", None), "transport", None)


def transport_abort(send: Send) -> Callable[[], None] | None:
    """How to drop the connection behind `send`, when the server exposes it.

    ASGI has no way to close a connection whose peer stopped reading (every send waits for it to
    drain).
    """
    return getattr(_transport(send), "abort", None)


def cap_send_buffer(send: Send, size: int) -> None:
    """Set SO_SNDBUF of the socket behind `send`, when the server exposes it."""
    transport = _transport(send)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class EventStreamResponse(Response):
    """`text/event-stream` of one subscription; a HEAD request gets the headers only."""

    media_type = "text/event-stream"

    def __init__(self, broker: Broker, subscription: Subscription | None, retry_ms: int) -> None:
        self.broker = broker
        self.subscription = subscription  # None for HEAD
        self.on_close: Callable[[], None] | None = None  # called once the stream has ended
        self.retry = wire.encode_retry(retry_ms)
        self.status_code = 200
        self.background = None
        self.init_headers(STREAM_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self.subscription
        if subscription is None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        subscriber = subscription.subscriber
        subscriber.abort = scope.get(ABORT_KEY)
        watcher = asyncio.create_task(_wait_for_disconnect(receive))
        watcher.add_done_callback(lambda _: subscriber.close("disconnected", discard=True))
        topic = subscription.topic
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._replay(subscription, send)
            while (chunk := await subscriber.next_chunk()) is not None:
                subscriber.write_started = time.monotonic()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                subscriber.write_started = 0.0
                topic.delivered += subscriber.batch_events  # per write, not per frame
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write: an ordinary disconnect
        finally:
            watcher.cancel()
            self.broker.unsubscribe(topic, subscriber)
            if self.on_close is not None:
                self.on_close()

    async def _replay(self, subscription: Subscription, send: Send) -> None:
        """Write the retry line and the replay, page by page; nothing of it stays referenced."""
        subscriber, topic = subscription.subscriber, subscription.topic
        # write_started lets server.limits drop a writer whose reader has stalled.
        subscriber.write_started = time.monotonic()
        first = b"".join([self.retry, *subscription.preamble])
        subscription.preamble.clear()  # else an idle stream would keep evicted frames alive
        await send({"type": "http.response.body", "body": first, "more_body": True})
        subscriber.write_started = 0.0
        topic.delivered += subscription.replayed
        async with contextlib.aclosing(self.broker.replay_rest(subscription)) as pages:
            async for page, replayed in pages:
                subscriber.write_started = time.monotonic()
                await send({"type": "http.response.body", "body": page, "more_body": True})
                subscriber.write_started = 0.0
                topic.delivered += replayed


async def _wait_for_disconnect(receive: Receive) -> None:
    with contextlib.suppress(OSError):
        while (await receive())["type"] != "http.disconnect":
            pass
