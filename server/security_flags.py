"""The command-line flags of auth, limits and connections, and what they make (for server.cli)."""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import Any

from server.auth import PUBLISH_TOKENS_ENV, TOKENS_ENV, env_tokens, read_tokens, token_problem
from server.connections import MAX_PENDING_AUTO, ConnectionLimits
from server.settings import ServerSettings, origin_problem


def add_arguments(parser: argparse.ArgumentParser, number: Callable[..., Any]) -> None:
    """Auth, CORS and limit flags; `number(kind, allow_zero=...)` parses a non-negative number."""
    defaults = ServerSettings()
    group = parser.add_argument_group(
        "auth and limits",
        f"Tokens are also read from {TOKENS_ENV} and {PUBLISH_TOKENS_ENV} (comma- or "
        "space-separated); a file or the environment keeps them out of the process list.")
    add = group.add_argument
    add("--token", action="append", default=[], metavar="TOKEN",
        help="bearer token that may subscribe (repeatable); none: subscribing is open")
    add("--tokens-file", metavar="FILE", help="subscribe tokens, one per line")
    add("--publish-token", action="append", default=[], metavar="TOKEN",
        help="bearer token that may publish (repeatable); none: the subscribe tokens may")
    add("--publish-tokens-file", metavar="FILE", help="publish tokens, one per line")
    add("--cors-origin", action="append", default=[], metavar="ORIGIN",
        help="browser origin CORS allows, with credentials (cookies), e.g. https://app.example "
             "(repeatable; exact origins, never *); none: CORS off")
    add("--allow-query-token", action="store_true",
        help="also accept a token in the access_token query parameter (weaker than the header or "
             "the cookie of POST /session: URLs end up in histories and logs; masked in ours)")
    add("--max-streams", type=number(int), default=defaults.max_streams, metavar="N",
        help="open streams in total; more get 503 with Retry-After")
    add("--max-streams-per-client", type=number(int), metavar="N",
        default=defaults.max_streams_per_client,
        help="open streams per client address; more get 503 with Retry-After")
    add("--max-topics", type=number(int), default=defaults.max_topics, metavar="N",
        help="topics this process holds; a new one evicts the least recently used idle topic "
             "(no open stream here, not built in) and deletes its events; 409 when none is idle")
    add("--publish-rate", type=number(float, allow_zero=True), default=defaults.publish_rate,
        metavar="PER_SECOND",
        help="publish requests a second per client address; more get 429 with Retry-After; 0: any")
    add("--write-timeout", type=number(float, allow_zero=True), default=defaults.write_timeout,
        metavar="SECONDS",
        help="drop a stream whose reader stopped reading for this long; 0: never")
    add("--send-buffer", type=number(int, allow_zero=True), default=defaults.send_buffer,
        metavar="BYTES",
        help="each stream's kernel send buffer (SO_SNDBUF), so that a stalled reader holds about "
             "--queue-bytes plus this much; 0: the kernel's own, MiBs on loopback")


def add_connection_arguments(parser: argparse.ArgumentParser,
                             number: Callable[..., Any]) -> None:
    """Flags bounding what a connection may do before its request is whole, and proxies."""
    defaults = ConnectionLimits()
    group = parser.add_argument_group(
        "connections", "Bounds on connections that have not sent a whole request head yet.")
    add = group.add_argument
    add("--head-timeout", type=number(float), default=defaults.head_timeout, metavar="SECONDS",
        help="close a connection whose request head is not whole within this time (408 when "
             "part of it came), counted from the connection or from its previous response")
    add("--max-head-bytes", type=number(int), default=defaults.max_head_bytes, metavar="BYTES",
        help="largest request line and headers; a larger head gets 431 and the connection closes")
    count = number(int)
    add("--max-pending-connections", default="auto", metavar="N",
        type=lambda text: None if text == "auto" else count(text),
        help="connections waiting for a request head; over it the oldest that has waited a "
             "second is closed; auto: a quarter of the open-files limit, at most "
             f"{MAX_PENDING_AUTO}")
    add("--forwarded-allow-ips", default="none", metavar="ADDRESSES",
        help="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
             "and X-Forwarded-Proto are believed, or * for any; none: never believe them")


def connection_limits_from(args: argparse.Namespace,
                           parser: argparse.ArgumentParser) -> ConnectionLimits:
    """The ConnectionLimits of these flags; also checks --forwarded-allow-ips into a tuple."""
    given = "" if args.forwarded_allow_ips == "none" else args.forwarded_allow_ips
    trusted = tuple(part.strip() for part in given.split(",") if part.strip())
    for address in trusted:
        if address != "*":
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                parser.error(f"argument --forwarded-allow-ips: not an address or network: "
                             f"{address!r}")
    args.forwarded_allow_ips = trusted
    return ConnectionLimits(head_timeout=args.head_timeout, max_head_bytes=args.max_head_bytes,
                            max_pending=args.max_pending_connections)


def settings_from(args: argparse.Namespace, parser: argparse.ArgumentParser,
                  environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """ServerSettings fields of these flags; a token file that cannot be read is a usage error."""

    def tokens(given: list[str], flag: str, path: str | None, env: str) -> tuple[str, ...]:
        sources = {flag: given, env: env_tokens(env, environ)}
        if path:
            try:
                sources[path] = read_tokens(path)
            except (OSError, UnicodeDecodeError) as exc:
                parser.error(f"cannot read tokens from {path}: {exc.strerror or exc}")
        found: list[str] = []
        for source, listed in sources.items():
            for number, token in enumerate(filter(None, map(str.strip, listed)), 1):
                if (problem := token_problem(token)) is not None:
                    # One line, without usage, and never the token itself.
                    parser.exit(2, f"{parser.prog}: error: token {number} of {source} cannot "
                                   f"travel in an HTTP header: {problem}\n")
                found.append(token)
        return tuple(dict.fromkeys(found))

    for origin in args.cors_origin:
        if (problem := origin_problem(origin)) is not None:
            parser.exit(2, f"{parser.prog}: error: argument --cors-origin {origin[:80]!r}: "
                           f"{problem}\n")
    return {
        "tokens": tokens(args.token, "--token", args.tokens_file, TOKENS_ENV),
        "publish_tokens": tokens(args.publish_token, "--publish-token", args.publish_tokens_file,
                                 PUBLISH_TOKENS_ENV),
        "cors_origins": tuple(args.cors_origin),
        "allow_query_token": args.allow_query_token,
        "max_streams": args.max_streams,
        "max_streams_per_client": args.max_streams_per_client,
        "max_topics": args.max_topics,
        "publish_rate": args.publish_rate,
        "write_timeout": args.write_timeout,
        "send_buffer": args.send_buffer,
    }
