"""What the baselines share: one topic fan-out, the ticker load generator, the CLI and uvicorn.

Each baseline only adds its library's response class and event type, used as its docs show.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException

TICKER_TOPIC = "ticker"


class Topic:
    """One topic: a set of subscriber queues, each fed the same event object.

    Unbounded: a saturated baseline (every one is, at the bench's rates) that dropped its
    laggards would collapse to the few it still serves, and its figures with them.
    """

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[Any]] = set()

    def publish(self, item: Any) -> None:
        for queue in self.queues:
            queue.put_nowait(item)

    async def subscribe(self) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.queues.discard(queue)


# Makes the library's event object for one published tick: (event id, event name, JSON data).
EventFactory = Callable[[str, str, str], Any]


async def run_ticker(topic: Topic, rate: float, make_event: EventFactory) -> None:
    """Publish `rate` events per second, each built once and shared by every subscriber."""
    epoch = secrets.token_hex(4)
    interval = max(1.0 / rate, 0.001)
    started = time.monotonic()
    seq = 0
    while True:
        due = int((time.monotonic() - started) * rate)
        while seq < due:
            seq += 1
            data = json.dumps({"seq": seq, "ts_ns": time.time_ns()})
            topic.publish(make_event(f"{epoch}-{seq}", "tick", data))
        await asyncio.sleep(interval)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ticker", type=float, default=0.0, help="events per second on `ticker`")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="keep-alive interval, s")
    return parser.parse_args()


def make_app(rate: float, make_event: EventFactory) -> tuple[FastAPI, Topic]:
    """An app with /healthz and a `ticker` topic fed at `rate`; the caller adds /stream."""
    topic = Topic()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(run_ticker(topic, rate, make_event)) if rate > 0 else None
        yield
        if task:
            task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app, topic


def lookup(topic: Topic, name: str) -> Topic:
    """The only topic there is, or a 404."""
    if name != TICKER_TOPIC:
        raise HTTPException(404, f"unknown topic {name!r}")
    return topic


def serve(app: FastAPI, args: argparse.Namespace) -> None:
    # Access log off, as a production fan-out would run; uvicorn otherwise at its defaults.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
