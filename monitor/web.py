"""`sse-monitor --web`: the TUI in browser tabs, served by textual-serve.

Each tab runs its own monitor process with the same arguments (minus the web flags). A token
reaches those processes through their environment, never through the page, its URL or the
command line. textual-serve has no auth, so the page answers only on loopback unless exposed
on purpose, and its WebSocket only to pages of its own origin.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
from collections.abc import Iterable

from monitor.client.sanitize import visible

DEFAULT_PORT = 8080
# Flags of the web server itself, and whether each takes a value; a tab's monitor gets none.
WEB_FLAGS = {"--web": False, "--web-expose": False, "--host": True, "--port": True,
             "--token": True}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web", "Serve the TUI to browsers (textual-serve).")
    add = group.add_argument
    add("--web", action="store_true",
        help="serve the monitor to browsers: each tab runs its own monitor with these arguments")
    add("--host", metavar="ADDRESS",
        help="interface --web binds (default: 127.0.0.1); another than loopback needs "
             "--web-expose")
    add("--port", type=int, metavar="PORT", help=f"port --web listens on (default: {DEFAULT_PORT})")
    add("--web-expose", action="store_true",
        help="allow --host to be an interface others reach: the page has no login, and every "
             "visitor gets a monitor holding your token")


def check_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Usage errors of the web flags."""
    if not args.web:
        for flag, given in (("--host", args.host), ("--port", args.port),
                            ("--web-expose", args.web_expose)):
            if given not in (None, False):
                parser.error(f"{flag} is for --web")
        return
    if args.plain or args.record:
        parser.error("--web serves the TUI: no --plain, and no --record (every tab would write "
                     "the same file)")
    args.host = args.host or "127.0.0.1"
    args.port = DEFAULT_PORT if args.port is None else args.port
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    if not is_loopback(args.host) and not args.web_expose:
        parser.error(f"--host {args.host} is not loopback: the page has no login and every "
                     "visitor gets a monitor holding your token; add --web-expose to serve it "
                     "there anyway")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tab_arguments(argv: Iterable[str], option_strings: Iterable[str]) -> list[str]:
    """`argv` without the web flags and --token (and their values), abbreviations included."""
    known = list(option_strings)
    kept: list[str] = []
    items = iter(argv)
    for item in items:
        if item == "--":
            kept.extend([item, *items])
            break
        name, equals, _ = item.partition("=")
        if item.startswith("--"):
            # argparse takes any unique prefix of a long flag, so strip those too
            matches = [flag for flag in known if flag == name] or [
                flag for flag in known if flag.startswith(name)]
            if len(matches) == 1 and matches[0] in WEB_FLAGS:
                if WEB_FLAGS[matches[0]] and not equals:
                    next(items, None)
                continue
        kept.append(item)
    return kept


def tab_command(argv: Iterable[str], parser: argparse.ArgumentParser) -> str:
    """The shell command textual-serve runs for each tab."""
    flags = [flag for action in parser._actions for flag in action.option_strings]
    return shlex.join([sys.executable, "-m", "monitor", *tab_arguments(argv, flags)])


def serve(args: argparse.Namespace, argv: list[str]) -> int:
    """Serve the monitor of these arguments to browsers until Ctrl+C."""
    from monitor.cli import TOKEN_ENV, build_parser  # the front door that called us
    from monitor.web_server import MonitorServer  # aiohttp and textual-serve, only for --web

    if args.token:
        os.environ[TOKEN_ENV] = args.token  # inherited by every tab's monitor
    if args.web_expose and not is_loopback(args.host):
        print(visible(f"sse-monitor --web: serving on {args.host}:{args.port} to anyone who "
                      "can reach it: no login; every visitor runs a monitor with this machine's "
                      "network position and its token, and sees every event it receives"),
              file=sys.stderr)
    server = MonitorServer(tab_command(argv, build_parser()), args.host, args.port,
                           args.web_expose)
    try:
        server.serve()
    except OSError as exc:
        print(visible(f"sse-monitor --web: cannot serve on {args.host}:{args.port}: "
                      f"{exc.strerror or exc}"), file=sys.stderr)
        return 1
    return 0
