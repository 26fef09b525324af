"""Baseline: sse-starlette's `EventSourceResponse`, one shared `ServerSentEvent` per tick."""

from __future__ import annotations

from sse_starlette import EventSourceResponse, ServerSentEvent

from bench.baselines.common import lookup, make_app, parse_args, serve


def main() -> None:
    args = parse_args(__doc__ or "")
    app, ticker = make_app(args.ticker, lambda id_, event, data: ServerSentEvent(
        data, id=id_, event=event))

    @app.get("/stream")
    async def stream(topic: str) -> EventSourceResponse:
        source = lookup(ticker, topic).subscribe()

        async def events():
            yield ServerSentEvent(retry=3000)
            async for event in source:
                yield event

        return EventSourceResponse(events(), ping=args.heartbeat or 0)

    serve(app, args)


if __name__ == "__main__":
    main()
