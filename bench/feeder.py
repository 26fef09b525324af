"""The real server (`server.cli`'s uvicorn config, broker and routes) fed at a fixed rate with
token- and log-shaped events, for the monitor-ingest benchmark.

Events go straight to the broker in the server's own process: the POST API would cost far more
than the fan-out under test. Payloads are the server's own simulator steps, stamped with `ts`.

    python -m bench.feeder --port 8000 --rate 5000   # 5,000 events/s on each of four topics
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

from server.broker import Broker
from server.cli import StreamingServer, uvicorn_config
from server.settings import ServerSettings
from server.simulators import paced_batches, steps_for

TOPICS = {"tokens-a": "tokens", "tokens-b": "tokens", "logs-a": "logs", "logs-b": "logs"}
SCRIPT_LENGTH = 5000  # simulator steps per topic, replayed in a loop
Script = list[tuple[str, dict[str, Any]]]  # a topic's events: (name, data)


def scripts(seed: int = 1) -> dict[str, Script]:
    """Each topic's events (name, data), taken from the simulator of its kind."""
    return {topic: _whole_messages([(event, data) for _, event, data in
                                    itertools.islice(steps_for(kind, seed + index), SCRIPT_LENGTH)])
            for index, (topic, kind) in enumerate(TOPICS.items())}


def _whole_messages(steps: Script) -> Script:
    """The steps up to the last message's end: a script looped from inside a message would
    reopen that message every loop and never end it, a stream no agent sends."""
    ends = [index for index, (event, _) in enumerate(steps) if event == "TEXT_MESSAGE_END"]
    return steps[:ends[-1] + 1] if ends else steps


async def feed(broker: Broker, rate: float) -> None:
    """`rate` events/s on every topic, in batches per loop tick (like the server's ticker)."""
    for topic in TOPICS:
        broker.add_topic(topic)
    # Encoded once, stamped per batch: a json.dumps per event was a fifth of this process's CPU,
    # taken from the monitor under test on the same two cores (a real publisher runs elsewhere)
    cycles = {topic: itertools.cycle([(event, _unclosed(data)) for event, data in steps])
              for topic, steps in scripts().items()}
    async for batch in paced_batches(rate):
        stamp = f'"ts": {time.time()!r}}}'
        for topic, steps in cycles.items():
            await broker.publish_many(topic, [
                (event, head + stamp) for event, head in itertools.islice(steps, len(batch))])


def _unclosed(data: dict[str, Any]) -> str:
    """`data` as a JSON object without its closing brace (nor a `ts`), ready for one: `ts`."""
    inner = json.dumps({key: value for key, value in data.items() if key != "ts"})[1:-1]
    return "{" + inner + (", " if inner else "")


async def serve(port: int, rate: float, heartbeat: float) -> None:
    settings = ServerSettings(simulators=False, heartbeat=heartbeat)
    config, broker = uvicorn_config(settings, port=port, log_level="warning")
    server = StreamingServer(config, broker)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
        await asyncio.sleep(0.01)
    feeding = asyncio.create_task(feed(broker, rate))
    await serving
    feeding.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s on each topic")
    parser.add_argument("--heartbeat", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.rate, args.heartbeat))


if __name__ == "__main__":
    main()
