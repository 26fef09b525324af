"""`sse-demo-server`: parse flags, run uvicorn, end every stream promptly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Callable

import uvicorn

from monitor.recording.format import RecordingError
from server import security_flags
from server.access_log import logging_config
from server.backends import REDIS_SCHEMES, open_backend
from server.connections import GuardedHttpToolsProtocol
from server.open_files import raise_open_files_limit
from server.serving import SHUTDOWN_GRACE, StreamingServer, forwarded_options, uvicorn_config
from server.settings import BACKEND_ENV, ServerSettings


def _positive(kind: type[float] | type[int],
              allow_zero: bool = False) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"must be {'0 or more' if allow_zero else 'positive'}")
        return value
    return parse


def package_version() -> str:
    """The installed package's version (the server ships in the sse-monitor package)."""
    try:
        return importlib.metadata.version("sse-monitor")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


class DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each default said once: none for flags that default to nothing, or whose help says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        nothing = action.default is None or action.default is False or action.default == []
        if nothing or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = ServerSettings()
    parser = argparse.ArgumentParser(
        prog="sse-demo-server",
        description="SSE server with resumable per-topic backlogs, heartbeats and simulated "
                    "agent streams (topics progress, logs, tokens).",
        formatter_class=DefaultsOnceFormatter)
    add = parser.add_argument
    add("--version", action="version", version=f"%(prog)s {package_version()}")
    add("--host", default="127.0.0.1", help="interface to bind")
    add("--port", type=_positive(int, allow_zero=True), default=8000, help="TCP port (0: any)")
    add("--backlog", type=_positive(int), default=defaults.backlog,
        help="events retained per topic for resume")
    add("--backlog-bytes", type=_positive(int), default=defaults.backlog_bytes, metavar="BYTES",
        help="bytes retained per topic for resume; beyond them its oldest events are evicted")
    add("--total-backlog-bytes", type=_positive(int), default=defaults.total_backlog_bytes,
        metavar="BYTES",
        help="bytes retained by all topics of this process (memory backend); beyond them the "
             "largest topic's oldest events are evicted")
    add("--heartbeat", type=_positive(float, allow_zero=True), default=defaults.heartbeat,
        metavar="SECONDS", help="heartbeat interval; 0 turns heartbeats off")
    add("--speed", type=_positive(float), default=defaults.speed, help="simulator speed factor")
    add("--seed", type=int, default=None, help="simulator seed (default: random, logged)")
    add("--retry-ms", type=_positive(int, allow_zero=True), default=defaults.retry_ms,
        help="reconnection time sent in each stream's retry: line")
    add("--ticker", type=_positive(float, allow_zero=True), default=0.0, metavar="RATE",
        help="add a `ticker` topic publishing RATE events/s (load tests); 0: none")
    add("--no-simulators", action="store_true", help="do not run progress, logs and tokens")
    add("--replay", metavar="FILE",
        help="serve the events of an sse-monitor recording as live topics (one per recorded "
             "stream), with fresh ids and the original pacing scaled by --speed; no simulators")
    add("--queue-bytes", type=_positive(int), default=defaults.queue_bytes,
        help="unsent bytes a subscriber may lag before its stream is closed (a replay too); at "
             "least 4 times --max-event-bytes")
    add("--max-event-bytes", type=_positive(int), default=defaults.max_event_bytes,
        help="largest body POST /topics/{topic}/events accepts")
    add("--backend", default=os.environ.get(BACKEND_ENV) or defaults.backend, metavar="URL",
        help="where events live: memory (this process only) or redis://HOST:PORT/DB, shared by "
             f"workers and hosts (also from the environment variable {BACKEND_ENV})")
    add("--workers", type=_positive(int), default=1,
        help="uvicorn worker processes; more than one needs a redis:// backend")
    add("--log-level", default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="the least severe server log message printed")
    add("--access-log", action="store_true", help="log every request")
    security_flags.add_arguments(parser, _positive)
    security_flags.add_connection_arguments(parser, _positive)
    args = parser.parse_args(argv)
    args.security = security_flags.settings_from(args, parser)
    args.connection_limits = security_flags.connection_limits_from(args, parser)
    try:
        args.settings = ServerSettings(
            backlog=args.backlog, backlog_bytes=args.backlog_bytes,
            total_backlog_bytes=args.total_backlog_bytes, heartbeat=args.heartbeat,
            retry_ms=args.retry_ms, speed=args.speed, seed=args.seed,
            simulators=not args.no_simulators and not args.replay, ticker=args.ticker,
            queue_bytes=args.queue_bytes, max_event_bytes=args.max_event_bytes,
            backend=args.backend, replay=args.replay, **args.security)
    except ValueError as exc:
        parser.error(str(exc))
    if args.port > 65535:
        parser.error("argument --port: must be at most 65535")
    try:
        open_backend(args.backend, defaults.backlog)  # only checks the URL: connects later
    except ValueError as exc:
        parser.error(f"argument --backend: {exc}")
    if args.replay and args.workers > 1:
        parser.error("argument --replay: serve a recording from one process (no --workers)")
    if args.workers > 1 and not args.backend.startswith(REDIS_SCHEMES):
        parser.error("argument --workers: more than one worker needs a shared backend "
                     "(--backend redis://HOST:PORT/DB); in memory each would have its own topics")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings: ServerSettings = args.settings
    raise_open_files_limit(args.max_streams + (args.connection_limits.max_pending or 0))
    if args.workers > 1:
        _run_workers(settings, args)
        return
    try:
        config, broker = uvicorn_config(settings, host=args.host, port=args.port,
                                        log_level=args.log_level, access_log=args.access_log,
                                        connection_limits=args.connection_limits,
                                        forwarded_allow_ips=args.forwarded_allow_ips)
    except RecordingError as exc:
        sys.exit(f"sse-demo-server: cannot replay: {exc}")
    server = StreamingServer(config, broker)
    server.run()
    if not server.started:
        sys.exit(1)  # uvicorn has logged why (e.g. the port is taken)


def _run_workers(settings: ServerSettings, args: argparse.Namespace) -> None:
    """uvicorn's worker processes, each building the app from the settings in its environment."""
    os.environ.update(settings.to_env())
    os.environ.update(args.connection_limits.to_env())  # read by each worker's protocol
    uvicorn.run("server.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=args.access_log,
                timeout_graceful_shutdown=SHUTDOWN_GRACE, http=GuardedHttpToolsProtocol,
                log_config=logging_config(),
                **forwarded_options(args.forwarded_allow_ips))


if __name__ == "__main__":
    main()
