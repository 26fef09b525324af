"""The topics a server offers, from its `GET /topics` (our server's API; no Textual)."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import httpx

from monitor.client import safejson
from monitor.client.sse import DEFAULT_MAX_BYTES
from monitor.client.transfer import ACCEPT_IDENTITY, content_coding, read_start, request_headers

DEFAULT_STREAM_URL = "http://127.0.0.1:8000/stream"
TOPICS_TIMEOUT = 5.0
MAX_TOPICS = 100  # panes opened at start-up, rows in the topic dialog
MAX_TOPICS_BYTES = DEFAULT_MAX_BYTES  # a longer answer is refused, as a stream's event would be


class TopicList(NamedTuple):
    """The first MAX_TOPICS topics of a `GET /topics` answer, and how many more it listed."""

    rows: list[dict[str, Any]]  # each with at least a string `name`
    left_out: int = 0

    @property
    def names(self) -> list[str]:
        return [row["name"] for row in self.rows]


def topics_url(stream_url: str) -> str:
    """`http://host/base/topics` for a stream URL `http://host/base/stream?...`."""
    url = httpx.URL(stream_url)
    parent = url.path.rsplit("/", 1)[0]
    return str(url.copy_with(path=f"{parent}/topics", query=None))


def _rows(payload: Any) -> list[dict[str, Any]]:
    """The topic rows of a `/topics` answer: `{"topics": [{"name": ...}, ...]}` or a bare list."""
    rows = payload.get("topics") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise ValueError("expected a list of topics")
    topics = [{"name": row} if isinstance(row, str) else row for row in rows]
    if not all(isinstance(row, dict) and isinstance(row.get("name"), str) for row in topics):
        raise ValueError("expected topics with a name")
    return topics


async def list_topics(
    stream_url: str, client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
) -> TopicList:
    """The server's topics, at most MAX_TOPICS of them.

    Raises httpx.HTTPError when the server cannot be asked, ValueError on an unexpected answer
    (not JSON, nested too deep, compressed, larger than MAX_TOPICS_BYTES).
    """
    if client is None:
        async with httpx.AsyncClient(timeout=TOPICS_TIMEOUT) as own_client:
            return await list_topics(stream_url, own_client, headers)
    request = client.build_request(
        "GET", topics_url(stream_url), timeout=TOPICS_TIMEOUT,
        headers={**ACCEPT_IDENTITY, **request_headers(headers or {})},
    )
    response = await client.send(request, stream=True)
    try:
        response.raise_for_status()
        if coding := content_coding(response):
            raise ValueError(f"compressed answer (Content-Encoding: {coding[:40]}) refused")
        body = await read_start(response, MAX_TOPICS_BYTES + 1, TOPICS_TIMEOUT)
    finally:
        await response.aclose()
    if len(body) > MAX_TOPICS_BYTES:
        raise ValueError(f"answer larger than {MAX_TOPICS_BYTES} bytes")
    rows = _rows(safejson.loads(body))
    return TopicList(rows[:MAX_TOPICS], max(0, len(rows) - MAX_TOPICS))


async def fetch_topics(
    stream_url: str, client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The server's topics (each a dict with at least `name`, at most MAX_TOPICS), for switching.

    Raises httpx.HTTPError when the server cannot be asked, ValueError on an unexpected answer.
    """
    return (await list_topics(stream_url, client, headers)).rows


def discover_topics(
    stream_url: str = DEFAULT_STREAM_URL, headers: dict[str, str] | None = None
) -> TopicList:
    """The topics the server lists, at start-up (blocking); none when it cannot say."""
    try:
        return asyncio.run(list_topics(stream_url, headers=headers))
    except (httpx.HTTPError, ValueError):
        return TopicList([])
