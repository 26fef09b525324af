"""What a hostile server or file sends to take over a terminal, and how to tell it did not."""

from __future__ import annotations

import json
import re

OSC_TITLE = "\x1b]0;pwned\x07"  # retitles the terminal
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes `rm -rf ~` to the clipboard
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
C1_CSI = "\x9b31m"  # the one-character CSI of C1
BIDI = "\u202e"  # right-to-left override: what follows reads backwards
LINE_SEPARATOR = "\u2028"
MARKUP = "[bold]bold[/bold] [link=https://evil.example/]click[/link]"
HOSTILE = f"{OSC_TITLE}{OSC_CLIPBOARD}{CLEAR}{C1_CSI} {BIDI}txt.exe{LINE_SEPARATOR}{MARKUP}"
# What the escapes look like once shown: these must be on the screen
SHOWN = ("\\x1b]0;pwned\\x07", "\\x1b]52;c;", "\\x9b31m", "\\u202etxt.exe")

# Every character that acts on a terminal (C0 but tab and newline, DEL, C1), bidi controls and
# the line separators: none may reach a screen raw.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         "\u2066-\u2069\u2028\u2029]")


def raw_controls(text: str) -> list[str]:
    """The raw control characters in `text`, as escapes (empty when there are none)."""
    return [repr(char) for char in RAW_CONTROL.findall(text)]


def frames() -> bytes:
    """A stream of hostile frames: in the type, the id, the data (text and JSON), a gap."""
    log = json.dumps({"level": "ERROR", "logger": f"db{OSC_TITLE}", "message": HOSTILE})
    gap = json.dumps({"reason": f"evicted{OSC_TITLE}", "detail": f"lost {HOSTILE}",
                      "requested": f"req{C1_CSI}", "resume_from": f"from{BIDI}", "missed": 3},
                     ensure_ascii=False)
    lines = [
        "retry: 50",
        f"event: evil{OSC_TITLE}",
        f"id: id{CLEAR}{BIDI}",
        f"data: {HOSTILE}",
        "",
        "event: log",
        f"data: {log}",
        "",
        "event: gap",
        f"data: {gap}",
        "",
    ]
    return "\n".join(lines).encode() + b"\n"


def error_response(status: str = "404 Not Found") -> bytes:
    """An error (a 404 unless told) whose body a state line quotes."""
    body = f"no such stream {HOSTILE}".encode()
    return (f"HTTP/1.1 {status}\r\n".encode()
            + b"Content-Type: text/plain\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

