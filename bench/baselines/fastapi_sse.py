"""Baseline: FastAPI's own `fastapi.sse.EventSourceResponse`, one shared `ServerSentEvent` per tick.

FastAPI encodes each yielded event itself, per subscriber, and inserts `: ping` comments when the
generator has been idle for `_PING_INTERVAL` seconds: private, and read from `fastapi.routing`'s
own copy of the name, so that is the one to patch.
"""

# No `from __future__ import annotations`: FastAPI must see the local dependency.

from collections.abc import AsyncIterable
from typing import Annotated

import fastapi.routing
from fastapi import Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from bench.baselines.common import Topic, lookup, make_app, parse_args, serve


def main() -> None:
    args = parse_args(__doc__ or "")
    if args.heartbeat:
        fastapi.routing._PING_INTERVAL = args.heartbeat
    app, ticker = make_app(args.ticker, lambda id_, event, data: ServerSentEvent(
        raw_data=data, id=id_, event=event))

    def topic_named(topic: str) -> Topic:  # a dependency, so a 404 is raised before streaming
        return lookup(ticker, topic)

    @app.get("/stream", response_class=EventSourceResponse)
    async def stream(
        found: Annotated[Topic, Depends(topic_named)],
    ) -> AsyncIterable[ServerSentEvent]:
        source = found.subscribe()
        yield ServerSentEvent(retry=3000)
        async for event in source:
            yield event

    serve(app, args)


if __name__ == "__main__":
    main()
