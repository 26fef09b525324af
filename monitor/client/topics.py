"""The topics a server offers, from its `GET /topics` (our server's API; no Textual)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx

from monitor.client import safejson
from monitor.client.backoff import backoff_delay, seconds_text
from monitor.client.sse import DEFAULT_MAX_BYTES
from monitor.client.stream import CONNECTION_REFUSED, describe_http_error
from monitor.client.transfer import ACCEPT_IDENTITY, content_coding, read_start, request_headers

DEFAULT_STREAM_URL = "http://127.0.0.1:8000/stream"
TOPICS_TIMEOUT = 5.0
MAX_TOPICS = 100  # panes opened at start-up, rows in the topic dialog
MAX_TOPICS_BYTES = DEFAULT_MAX_BYTES  # a longer answer is refused, as a stream's event would be
TOPICS_RETRY_DELAY = 1.0  # seconds before the second try to list the topics at start-up
TOPICS_RETRY_CAP = 15.0  # the back-off's cap while waiting for a server to come up
NO_SERVER_HINT = "no server at that address yet: start sse-demo-server, or use --demo"
NO_TOPICS_YET = "the server lists no topics yet (a topic appears when it is first published to)"


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


@dataclass(frozen=True)
class TopicsPending:
    """The topics are not known yet: why, and when the next try is."""

    url: str  # the `/topics` URL asked
    reason: str
    attempt: int
    delay: float

    def describe(self) -> str:
        """`waiting for topics at http://host/topics: connection refused (...); next try in 2s`."""
        return (f"waiting for topics at {self.url}: {self.reason}; "
                f"next try in {seconds_text(self.delay)}")


class TopicsRefused(Exception):
    """The server answered `/topics` in a way that waiting will not change (one-line reason)."""


async def wait_for_topics(
    stream_url: str,
    headers: dict[str, str] | None = None,
    *,
    retry: bool = True,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> AsyncIterator[TopicsPending | TopicList]:
    """Ask `GET /topics` until the server lists some, with back-off: a TopicsPending before each
    wait, then the TopicList.

    Raises TopicsRefused when the answer will not change by waiting (401, 403, 404, not a topic
    list), or at the first failure when `retry` is False.
    """
    url = topics_url(stream_url)
    attempt = 0
    async with httpx.AsyncClient(timeout=TOPICS_TIMEOUT) as client:
        while True:
            attempt += 1
            try:
                found = await list_topics(stream_url, client, headers)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                reason = f"{status} {exc.response.reason_phrase}".strip()
                if status in (401, 403):
                    raise TopicsRefused(f"GET {url}: {reason} (check --token or --header)") \
                        from None
                if status == 404:
                    raise TopicsRefused(f"GET {url}: {reason}; not sse-demo-server? give the "
                                        "stream's URL (and --topic)") from None
            except httpx.HTTPError as exc:
                reason = _transport_reason(exc)
            except ValueError as exc:
                raise TopicsRefused(f"GET {url}: {exc}; not sse-demo-server? give the stream's "
                                    "URL (and --topic)") from None
            else:
                if found.rows:
                    yield found
                    return
                reason = NO_TOPICS_YET
            if not retry:
                raise TopicsRefused(f"GET {url}: {reason}")
            delay = backoff_delay(attempt, TOPICS_RETRY_DELAY, TOPICS_RETRY_CAP, rand)
            yield TopicsPending(url, reason, attempt, delay)
            await sleep(delay)


def _transport_reason(exc: httpx.HTTPError) -> str:
    """`connection refused (no server at that address yet: ...)`, or what else went wrong."""
    reason = describe_http_error(exc)
    return f"{reason} ({NO_SERVER_HINT})" if reason == CONNECTION_REFUSED else reason
