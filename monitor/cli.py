"""`sse-monitor`: parse flags, build one stream per topic, run the TUI or the plain mode."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx

from monitor import web
from monitor.client import redaction
from monitor.client.backoff import MAX_RECONNECT_DELAY
from monitor.client.sanitize import visible
from monitor.client.stream import StreamConfig, with_topic
from monitor.client.topics import (
    DEFAULT_STREAM_URL,
    MAX_TOPICS,
    TopicsPending,
    TopicsRefused,
    wait_for_topics,
)
from monitor.client.transfer import UNSENDABLE, header_bytes
from monitor.plain import FORMATS, replay_plain, run_plain
from monitor.recording.format import Recorder, RecordingError, load_recording
from monitor.tui.render.pane import DEFAULT_MAX_LINES

TOKEN_ENV = "SSE_MONITOR_TOKEN"  # a bearer token kept out of the process list
EXIT_INTERRUPTED = 130
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # what HTTP allows in a header name


def _number(
    kind: Callable[[str], float], minimum: float, inclusive: bool, maximum: float = math.inf,
) -> Callable[[str], float]:
    """An argparse type: a number of `kind`, at least (or more than) `minimum`, at most
    `maximum`."""
    what = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if value < minimum or (value == minimum and not inclusive):
            bound = f"at least {minimum}" if inclusive else f"more than {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}: {text!r}")
        if not value <= maximum:  # NaN too
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}: {text!r}")
        return value
    return parse


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not _TOKEN.fullmatch(name):
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    if header_bytes(value.strip()) is None:  # the value is not quoted: it may be a secret
        raise argparse.ArgumentTypeError(f"the value of {name} {UNSENDABLE}")
    return name, value.strip()


EPILOG = f"""\
examples:
  sse-monitor                        every topic of sse-demo-server at {DEFAULT_STREAM_URL}
                                     (waits for the server and its topics when not up yet)
  sse-monitor --demo                 start the bundled demo server and watch it
  sse-monitor http://host/events     any SSE endpoint, as given
  sse-monitor URL --topic logs --topic tokens
  sse-monitor --plain --format jsonl --max-events 10 | jq .
  sse-monitor --record run.jsonl     then: sse-monitor --replay run.jsonl

keys: press ? in the TUI for every key; docs/monitor.md describes them and SSE_MONITOR_KEYS.

exit status: 0 done (quit, --max-events reached, streams ended normally); 1 a stream ended in
error, or the run could not start (one line on stderr says why); 2 bad flags; 130 interrupted.
"""


def package_version() -> str:
    """The installed package's version, as `--version` prints it."""
    try:
        return importlib.metadata.version("sse-monitor")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sse-monitor",
        description="Watch Server-Sent Events streams: a keyboard-driven TUI, or --plain output "
                    "for scripts and pipes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--version", action="version", version=f"%(prog)s {package_version()}")
    add("url", nargs="?", metavar="URL",
        help=f"full URL of any SSE endpoint (default {DEFAULT_STREAM_URL})")
    add("--topic", action="append", metavar="T",
        help="open one stream with this `topic` query parameter (repeatable)")
    add("--plain", action="store_true", help="print events instead of running the TUI")
    add("--format", choices=FORMATS, default="text", help="plain output format (default: text)")
    add("--header", action="append", type=_header, default=[], metavar="'NAME: VALUE'",
        help="extra request header (repeatable)")
    add("--token", default=os.environ.get(TOKEN_ENV) or None, metavar="TOKEN",
        help=f"bearer token, sent as 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV})")
    add("--last-event-id", default="", metavar="ID", help="resume after this event id")
    add("--reconnect-delay", type=_number(float, 0, inclusive=True, maximum=MAX_RECONNECT_DELAY),
        default=3.0,
        metavar="SECONDS", help="reconnection time until the server sends retry: (default: 3)")
    add("--no-reconnect", action="store_true", help="exit when the stream ends")
    add("--watchdog", type=_number(float, 0, inclusive=True, maximum=MAX_RECONNECT_DELAY),
        metavar="SECONDS",
        help="replace a connection silent this long; 0: never (default: 3 keep-alive intervals, "
             "armed only once the stream sends heartbeats or comments at a regular pace)")
    add("--max-events", type=_number(int, 0, inclusive=False), metavar="N",
        help="exit after N events")
    add("--max-lines", type=_number(int, 0, inclusive=False), default=DEFAULT_MAX_LINES,
        metavar="N", help=f"lines kept per pane in the TUI (default: {DEFAULT_MAX_LINES})")
    add("--stream-process", action="store_true",
        help="read and parse the streams in a second process, so that a fast stream (thousands "
             "of events a second per pane) never waits for the screen (default: the TUI's own "
             "process)")
    add("--demo", action="store_true",
        help="start the bundled demo server (a child process) and monitor its topics")
    add("--record", metavar="FILE",
        help="record every event, heartbeat, gap and state of every stream to FILE (JSON Lines)")
    add("--replay", metavar="FILE", help="show a recording instead of connecting (no network)")
    add("--speed", type=_number(float, 0, inclusive=True), metavar="X",
        help="replay at X times the original pace; 0 = as fast as possible (default: 1)")
    web.add_arguments(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.token is not None:
        if not args.token.strip() or any(c.isspace() or not c.isprintable() for c in args.token):
            parser.error("--token: expected one word of printable characters")
        if header_bytes(args.token) is None:
            parser.error(f"--token {UNSENDABLE}")
        args.header.append(("Authorization", f"Bearer {args.token}"))
    for name, value in args.header:
        redaction.remember_header(name, value)  # never shown on screen or in logs
    if args.demo and args.url:
        parser.error("--demo monitors its own server: give no URL")
    if args.replay and (args.url or args.topic or args.demo or args.record):
        parser.error("--replay shows a recording: give no URL, --topic, --demo or --record")
    if args.speed is not None and not args.replay:
        parser.error("--speed paces a --replay")
    if args.stream_process and (args.plain or args.replay):
        parser.error("--stream-process is for the TUI's live streams (--plain and --replay "
                     "always run in one process)")
    web.check_arguments(args, parser)
    if args.url:
        try:
            scheme = httpx.URL(args.url).scheme
        except httpx.InvalidURL as exc:
            parser.error(f"invalid URL {args.url!r}: {exc}")
        if scheme not in ("http", "https"):
            parser.error(f"URL must start with http:// or https://, got {args.url!r}")
    return args


def stream_configs(
    url: str, topics: list[str] | None, args: argparse.Namespace
) -> list[StreamConfig]:
    """One StreamConfig per topic (or one for the URL as given when there are no topics)."""
    def config(stream_url: str, topic: str | None) -> StreamConfig:
        return StreamConfig(
            url=stream_url, topic=topic, headers=dict(args.header),
            last_event_id=args.last_event_id, reconnect_delay=args.reconnect_delay,
            reconnect=not args.no_reconnect, watchdog=args.watchdog,
        )
    if not topics:
        return [config(url, None)]
    return [config(with_topic(url, topic), topic) for topic in dict.fromkeys(topics)]


DiscoverySteps = AsyncIterator[TopicsPending | list[StreamConfig]]


async def discovered_configs(url: str, args: argparse.Namespace,
                             say: Callable[[str], None]) -> DiscoverySteps:
    """A StreamConfig for every topic the server at `url` lists, once it lists some; until then
    a TopicsPending before each wait. Raises TopicsRefused when waiting will not help."""
    async for found in wait_for_topics(url, dict(args.header), retry=not args.no_reconnect):
        if isinstance(found, TopicsPending):
            yield found
            continue
        if found.left_out:
            say(f"the server lists {len(found.rows) + found.left_out} topics; opening the first "
                f"{MAX_TOPICS} ({found.left_out} left out; choose with --topic)")
        yield stream_configs(url, found.names, args)


def _say(text: str) -> None:
    print(visible(f"sse-monitor: {text}"), file=sys.stderr, flush=True)


async def _plain_when_topics(url: str, args: argparse.Namespace,
                             recorder: Recorder | None) -> int:
    """The plain mode on every topic of our server, once it is up and lists some."""
    try:
        async for found in discovered_configs(url, args, _say):
            if isinstance(found, TopicsPending):
                _say(found.describe())
                continue
            return await run_plain(found, args.format, args.max_events, recorder=recorder)
    except TopicsRefused as exc:
        raise _Failed(str(exc)) from None
    raise AssertionError("discovery ends with the topics")


def _run(url: str, topics: list[str] | None, args: argparse.Namespace) -> int:
    discover = not topics and args.url is None  # our server: a stream for each of its topics
    if args.plain:
        with _recorder(args.record) as recorder:
            if discover:
                return asyncio.run(_plain_when_topics(url, args, recorder))
            return asyncio.run(run_plain(stream_configs(url, topics, args), args.format,
                                         args.max_events, recorder=recorder))
    from monitor.tui.app import run_app  # Textual is loaded only for the TUI

    with _recorder(args.record) as recorder:
        if discover:  # the TUI starts at once and opens the panes when the topics appear
            return run_app([], args, recorder=recorder,
                           discovery=lambda say: discovered_configs(url, args, say))
        return run_app(stream_configs(url, topics, args), args, recorder=recorder)


class _Failed(Exception):
    """A one-line reason to exit with status 1 before anything ran."""


@contextlib.contextmanager
def _recorder(path: str | None) -> Iterator[Recorder | None]:
    """The `--record` file, open for the whole run (None without the flag)."""
    if path is None:
        yield None
        return
    try:
        recorder = Recorder(path)
    except RecordingError as exc:
        raise _Failed(f"cannot record: {exc}") from None
    with recorder:
        yield recorder


def _replay(args: argparse.Namespace) -> int:
    entries, error = load_recording(args.replay)
    if error is not None:
        if not entries:
            raise _Failed(f"cannot replay: {error}")
        print(visible(f"sse-monitor: {error}; replaying the {len(entries)} items before it"),
              file=sys.stderr)
    speed = 1.0 if args.speed is None else args.speed
    if args.plain:
        status = asyncio.run(replay_plain(entries, speed, args.format, args.max_events))
        return 1 if error is not None else status
    from monitor.recording.feeds import ReplayFeed
    from monitor.tui.app import run_app

    return run_app([], args, replay=ReplayFeed.create(args.replay, entries, speed, error))


@contextlib.contextmanager
def _demo_server(timeout: float = 15.0) -> Iterator[str]:
    """`sse-demo-server` as a child process on a free loopback port: its URL while it runs.

    A process of its own, not a thread: the monitor never imports the server, and neither tunes
    the other's process.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", str(port), "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(f"{url}/healthz"):
                if child.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace").strip().splitlines()
                    raise _Failed("the demo server did not start"
                                  + (f": {said[-1]}" if said else ""))
                time.sleep(0.05)
            yield url
        finally:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _run_demo(args: argparse.Namespace) -> int:
    with _demo_server() as url:
        return _run(f"{url}/stream", args.topic, args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.web:
        return web.serve(args, sys.argv[1:] if argv is None else argv)
    try:
        if args.replay:
            return _replay(args)
        if args.demo:
            return _run_demo(args)
        return _run(args.url or DEFAULT_STREAM_URL, args.topic, args)
    except _Failed as exc:
        print(visible(f"sse-monitor: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
