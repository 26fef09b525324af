"""The topics a server offers, from its `GET /topics` (our server's API; no Textual)."""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_STREAM_URL = "http://127.0.0.1:8000/stream"
TOPICS_TIMEOUT = 5.0


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


async def fetch_topics(
    stream_url: str, client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The server's topics (each a dict with at least `name`), for switching topics.

    Raises httpx.HTTPError when the server cannot be asked, ValueError on an unexpected answer.
    """
    if client is None:
        async with httpx.AsyncClient(timeout=TOPICS_TIMEOUT) as own_client:
            return await fetch_topics(stream_url, own_client, headers)
    response = await client.get(topics_url(stream_url), headers=headers, timeout=TOPICS_TIMEOUT)
    response.raise_for_status()
    return _rows(response.json())


def discover_topics(
    stream_url: str = DEFAULT_STREAM_URL, headers: dict[str, str] | None = None
) -> list[str]:
    """Names of every topic the server lists, at start-up (blocking); [] when it cannot say."""
    try:
        response = httpx.get(topics_url(stream_url), headers=headers, timeout=TOPICS_TIMEOUT)
        response.raise_for_status()
        return [row["name"] for row in _rows(response.json())]
    except (httpx.HTTPError, ValueError):
        return []
