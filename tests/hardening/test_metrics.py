"""`/metrics`: Prometheus text, counting streams, events, drops, gaps and resumes for real."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.helpers import open_stream, publish, raw_stream_socket, subscribers, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.anyio
Factory = Callable[..., ServerProcess]


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_happened(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--heartbeat", "0", "--backlog", "5",
                            "--queue-bytes", "440000", "--max-event-bytes", "110000")
    ids = [publish(server.url, "m", "e", {"n": n}) for n in range(8)]
    async with open_stream(server.url, "m", ids[0]) as evicted:  # 2 evicted before the backlog
        events = await evicted.take(6)
        assert [e.type for e in events] == ["gap"] + ["e"] * 5
        async with open_stream(server.url, "m", ids[-1]) as resumed:
            await wait_for(lambda: value(scrape(server), "sse_open_streams", topic="m") == 2)
            publish(server.url, "m", "e", {"n": 8})
            assert (await resumed.next()).data == '{"n": 8}'
            assert (await evicted.next()).type == "e"
            samples = scrape(server)
    assert value(samples, "sse_events_published_total", topic="m") == 9
    assert value(samples, "sse_resume_requests_total", topic="m") == 2
    assert value(samples, "sse_gaps_served_total", topic="m", reason="evicted") == 1
    assert value(samples, "sse_events_delivered_total", topic="m") == 5 + 1 + 1

    stalled = raw_stream_socket(server.port, "m", rcvbuf=4096)  # never reads
    await wait_for(lambda: subscribers(server.url, "m") == 1)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(40):  # 4 MB: beyond the socket buffers and the queue
            await client.post("/topics/m/events", json={"event": "blob", "data": "x" * 100_000})
    await wait_for(lambda: value(scrape(server), "sse_slow_subscriber_drops_total", topic="m",
                                 reason="overflow") == 1)
    assert value(scrape(server), "sse_open_streams", topic="m") == 0
    stalled.close()


def test_metrics_need_the_subscribe_token(server_factory: Factory) -> None:
    server = server_factory("--no-simulators", "--token", "metrics-token-1")
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    scraped = httpx.get(f"{server.url}/metrics",
                        headers={"Authorization": "Bearer metrics-token-1"})
    assert scraped.status_code == 200
    assert 'sse_requests_rejected_total{reason="unauthorized"} 1.0' in scraped.text
