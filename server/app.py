"""The FastAPI app: thin routes over the broker, plus the simulators' lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from server import wire
from server.api_docs import DELETE_OPERATION, EVENT_PATTERN, PUBLISH_OPERATION, PUBLISHED, errors
from server.auth import (
    QUERY_TOKEN,
    SESSION_COOKIE,
    Access,
    Credentials,
    TokenAuth,
    bearer_token,
    cookie_value,
)
from server.backends import open_backend
from server.backends.base import Backend
from server.broker import Broker, BuiltInTopic, ShuttingDown, TopicLimitReached, UnknownTopic
from server.errors import ApiError
from server.limits import RateLimiter, StreamSlots, drop_stalled_writers
from server.metrics import Metrics
from server.replay import ReplayPlan, load_plan, run_replay
from server.settings import ServerSettings
from server.simulators import SIMULATORS, run_simulator, run_ticker
from server.streaming import ABORT_KEY, EventStreamResponse, cap_send_buffer, transport_abort

log = logging.getLogger("uvicorn.error")  # configured by uvicorn, so start-up notes show
_EVENT_RE = re.compile(EVENT_PATTERN)


class SSEApp(FastAPI):
    """FastAPI, except that `/stream` is answered directly.

    An open stream then holds no routing, middleware or dependency state: the server's memory
    per idle subscriber is what limits how many it serves.
    """

    stream_endpoint: Callable[[Request], Awaitable[Response]] | None = None
    stream_cors: ASGIApp | None = None  # _stream behind CORS, when origins are configured
    send_buffer = 0  # SO_SNDBUF of stream sockets; 0: left to the kernel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == "/stream"
                and scope["method"] in ("GET", "HEAD") and self.stream_endpoint is not None):
            scope[ABORT_KEY] = transport_abort(send)  # before CORS wraps `send`
            if self.send_buffer:
                cap_send_buffer(send, self.send_buffer)
            await (self.stream_cors or self._stream)(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.stream_endpoint is not None
        try:
            response = await self.stream_endpoint(Request(scope, receive))
        except ApiError as exc:
            response = exc.response()
        await response(scope, receive, send)


def create_app(settings: ServerSettings | None = None, backend: Backend | None = None) -> SSEApp:
    """The whole server: routes, broker over `backend` (in memory by default), simulators."""
    settings = settings or ServerSettings()
    backend = backend or open_backend(settings.backend, settings.backlog, settings.backlog_bytes,
                                      settings.total_backlog_bytes)
    broker = Broker(backend, heartbeat=settings.heartbeat, queue_bytes=settings.queue_bytes,
                    max_topics=settings.max_topics)
    # Read before serving, so a bad recording is reported at start-up (RecordingError).
    replay_plan = load_plan(settings.replay) if settings.replay else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await backend.start()
        await broker.start()
        tasks = _start_publishers(broker, settings, replay_plan)
        if settings.write_timeout > 0:
            tasks.append(asyncio.create_task(drop_stalled_writers(broker, settings.write_timeout),
                                             name="stalled writers"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await broker.close()
            await backend.close()

    app = SSEApp(title="sse-demo-server", lifespan=lifespan)
    app.state.broker = broker
    app.state.settings = settings
    app.send_buffer = settings.send_buffer
    _add_error_handlers(app)
    _add_routes(app, broker, settings)
    if settings.cors_origins:
        cors: dict[str, Any] = {
            "allow_origins": list(settings.cors_origins),
            "allow_methods": ["GET", "HEAD", "POST", "DELETE"],
            "allow_headers": ["Authorization", "Content-Type", "Last-Event-ID", "Cache-Control"],
            "allow_credentials": True,  # the session cookie; the origins are exact, never *
            "expose_headers": ["Retry-After"]}
        app.add_middleware(CORSMiddleware, **cors)
        app.stream_cors = CORSMiddleware(app._stream, **cors)
    return app


def app_from_env() -> SSEApp:
    """For `uvicorn --factory server.app:app_from_env --workers N` (see ServerSettings.from_env)."""
    return create_app(ServerSettings.from_env())


def topic_names(settings: ServerSettings) -> list[str]:
    """The topics a server with these settings creates at start."""
    return [*(SIMULATORS if settings.simulators else ()), *(["ticker"] if settings.ticker else ())]


def _start_publishers(broker: Broker, settings: ServerSettings,
                      replay_plan: ReplayPlan | None) -> list[asyncio.Task[None]]:
    publishers: list[Callable[[], Awaitable[None]]] = []
    if replay_plan is not None:
        names = list(dict.fromkeys(replay_plan.topics.values()))
        for name in names:
            broker.add_topic(name, "replay")
        publishers.append(functools.partial(
            run_replay, broker.publish, replay_plan, settings.speed,
            lambda: any(broker.topics[name].subscribers for name in names)))
    if settings.simulators:
        seed = settings.seed if settings.seed is not None else random.randrange(1 << 31)
        log.info("simulators: seed %d (pass --seed %d to repeat), speed %g",
                 seed, seed, settings.speed)
        for name in SIMULATORS:
            broker.add_topic(name, name)
            publishers.append(functools.partial(
                run_simulator, broker.publish, name, seed, settings.speed))
    if settings.ticker:
        broker.add_topic("ticker", "ticker")
        publishers.append(functools.partial(run_ticker, broker.publish_many, settings.ticker))
    if not publishers:
        return []

    async def publish_all() -> None:
        async with asyncio.TaskGroup() as group:
            for publisher in publishers:
                group.create_task(publisher())

    # Every worker and host has the topics; only one at a time publishes to a shared backend.
    work = broker.backend.run_exclusive("publishers", publish_all)
    return [asyncio.create_task(work, name="publishers")]


def _add_routes(app: SSEApp, broker: Broker, settings: ServerSettings) -> None:
    auth = TokenAuth(settings.tokens, settings.publish_tokens)
    slots = StreamSlots(settings.max_streams, settings.max_streams_per_client)
    publish_rate = RateLimiter(settings.publish_rate)
    metrics = app.state.metrics = Metrics(broker)

    def authorize(request: Request, access: Access) -> None:
        credentials = Credentials(
            request.headers.get("authorization"),
            request.cookies.get(SESSION_COOKIE) if _cookie_counts(request, settings) else None,
            request.query_params.get(QUERY_TOKEN) if settings.allow_query_token else None)
        try:
            auth.check(credentials, access)
        except ApiError:
            metrics.reject("unauthorized")
            raise

    # One route for both methods, so that a 405 on /session lists them both in Allow.
    @app.api_route("/session", methods=["POST", "DELETE"], status_code=204,
                   responses=errors(400, 401))
    async def session(request: Request) -> Response:
        """POST: set the session cookie to the bearer token, for EventSource (which sends no
        header). DELETE: clear it."""
        response = Response(status_code=204)
        secure = request.url.scheme == "https"
        if request.method == "DELETE":
            response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict",
                                   secure=secure, path="/")
            return response
        if not auth.enabled:
            return response  # nothing to hold: the server is open
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise ApiError(400, "send the token as 'Authorization: Bearer TOKEN'")
        if not auth.known(token):
            metrics.reject("unauthorized")
            raise ApiError(401, "the bearer token is not valid", {"WWW-Authenticate": "Bearer"})
        response.set_cookie(SESSION_COOKIE, cookie_value(token), httponly=True,
                            samesite="strict", secure=secure, path="/")
        return response

    @app.get("/healthz", responses=errors(503))
    async def healthz() -> JSONResponse:
        problem = broker.backend.health()
        if problem is not None:
            return JSONResponse({"status": "unhealthy", "error": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/topics", responses=errors(401))
    async def topics(request: Request) -> dict[str, Any]:
        authorize(request, Access.SUBSCRIBE)
        return {"topics": await broker.describe()}

    @app.get("/metrics", response_class=Response, responses=errors(401))
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text format: streams, events, drops, gaps, resumes, refusals."""
        authorize(request, Access.SUBSCRIBE)
        return Response(metrics.render(), media_type=metrics.content_type)

    async def stream(request: Request) -> EventStreamResponse:
        """GET /stream?topic=NAME[&last_event_id=ID] (see SSEApp)."""
        name = _checked_topic(request.query_params.get("topic"))
        resume = request.headers.get("last-event-id", request.query_params.get("last_event_id"))
        if (problem := broker.backend.health()) is not None:
            raise ApiError(503, problem)  # a stream now would stay silent; the client will retry
        try:
            if request.method == "HEAD":
                await broker.find(name)
                return EventStreamResponse(broker, None, settings.retry_ms)
            subscription = await broker.subscribe(name, resume or None)
        except UnknownTopic:
            raise ApiError(404, f"unknown topic {name!r}; GET /topics lists them") from None
        except ShuttingDown:
            raise ApiError(503, "the server is shutting down") from None
        except ConnectionError as exc:  # the shared backend is down; the client will retry
            raise ApiError(503, str(exc)) from None
        return EventStreamResponse(broker, subscription, settings.retry_ms)

    async def guarded_stream(request: Request) -> Response:
        """`stream`, for holders of a subscribe token, within the stream limits."""
        authorize(request, Access.SUBSCRIBE)
        if request.method == "HEAD":
            return await stream(request)
        try:
            release = slots.acquire(_client_address(request))
        except ApiError:
            metrics.reject("stream_limit")
            raise
        try:
            response = await stream(request)
        except BaseException:
            release()
            raise
        response.on_close = release
        return response

    app.stream_endpoint = guarded_stream

    def authorize_write(request: Request) -> str:
        """The checked topic of a publish or delete, by a publish-token holder within the rate."""
        authorize(request, Access.PUBLISH)
        try:
            publish_rate.take(_client_address(request))
        except ApiError:
            metrics.reject("publish_rate")
            raise
        return _checked_topic(request.path_params["topic"])  # declared in the *_OPERATIONs

    @app.post("/topics/{topic}/events", status_code=201, openapi_extra=PUBLISH_OPERATION,
              responses={**PUBLISHED, **errors(400, 401, 409, 413, 422, 429)})
    async def publish(request: Request) -> dict[str, str]:
        name = authorize_write(request)
        event, data = _parse_event(await _read_body(request, settings.max_event_bytes))
        try:
            entry = await broker.publish(name, event, data)
        except TopicLimitReached as exc:
            raise ApiError(409, str(exc)) from None
        return {"id": entry.id, "topic": name}

    @app.delete("/topics/{topic}", status_code=204, openapi_extra=DELETE_OPERATION,
                responses={204: {"description": "Deleted"}, **errors(400, 401, 404, 409, 429)})
    async def delete_topic(request: Request) -> Response:
        """Delete a topic and its events; its open streams end (publish token)."""
        name = authorize_write(request)
        try:
            await broker.delete(name)
        except UnknownTopic:
            raise ApiError(404, f"unknown topic {name!r}; GET /topics lists them") from None
        except BuiltInTopic as exc:
            raise ApiError(409, f"{exc}: it cannot be deleted") from None
        return Response(status_code=204)


def _cookie_counts(request: Request, settings: ServerSettings) -> bool:
    """Whether the session cookie may authorize this request.

    A read, always. A write only from a page of this server's own origin or of a --cors-origin:
    a browser sends the cookie with a form another page of the same site posts (CSRF).
    """
    if request.method in ("GET", "HEAD"):
        return True
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin is not None and (origin == own or origin in settings.cors_origins)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _checked_topic(name: str | None) -> str:
    if not name:
        raise ApiError(400, "missing topic: use /stream?topic=NAME")
    if not wire.is_valid_topic(name):
        raise ApiError(400, f"invalid topic name {name[:80]!r}: "
                            f"expected {wire.TOPIC_PATTERN.pattern}")
    return name


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
    return bytes(body)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_event(body: bytes) -> tuple[str, str]:
    """(event name, data as one line of JSON) from `{"event": NAME, "data": ANY}`."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise ApiError(422, 'expected a JSON object {"event": NAME, "data": ANY}')
    if unknown := sorted(set(payload) - {"event", "data"}):
        raise ApiError(422, f"unexpected fields: {', '.join(unknown)}")
    event = payload["event"]
    if event in wire.RESERVED_EVENTS:
        raise ApiError(400, f"event name {event!r} is reserved for the server")
    if not _EVENT_RE.fullmatch(event):
        raise ApiError(400, f"invalid event name {event[:80]!r}: expected {EVENT_PATTERN}")
    return event, wire.to_json(payload.get("data"))


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is `{"error": message}` JSON; never an HTML page or a 500 traceback."""

    @app.exception_handler(ConnectionError)
    async def backend_down(_: Request, exc: ConnectionError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=503)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"},
                            status_code=422)
