"""The one sanitising function: controls and bidi overrides become visible, nothing else changes."""

from __future__ import annotations

import json

import pytest

from monitor.client.sanitize import control_runs, json_line, visible

HOSTILE = [
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # OSC 0: retitle the terminal
    ("\x1b]52;c;cm0gLXJmIH4=\x07", "\\x1b]52;c;cm0gLXJmIH4=\\x07"),  # OSC 52: write the clipboard
    ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
    ("\u2066x\u2069", "\\u2066x\\u2069"),  # isolates
    ("a\rb\x08c\x7f", "a\\x0db\\x08c\\x7f"),  # CR, BS, DEL
    ("x\u2028y", "x\\u2028y"),
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_visible_escapes_every_control(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_keeps_plain_text_newlines_and_tabs() -> None:
    text = "héllo\tworld\n日本語 {\"a\": 1} \\x1b"
    assert visible(text) is text


def test_control_runs_marks_the_escaped_pieces() -> None:
    pieces = list(control_runs("a\x1b[31mred\x00"))
    assert pieces == [("a", False), ("\\x1b", True), ("[31mred", False), ("\\x00", True)]
    assert "".join(piece for piece, _ in pieces) == visible("a\x1b[31mred\x00")


def test_json_line_is_one_ascii_safe_line_with_the_same_value() -> None:
    value = {"data": "\x1b[2J\x85next\u2028line\u202eevil\x7f", "event": "\x9b"}
    line = json_line(json.dumps(value, ensure_ascii=False))
    assert json.loads(line) == value
    assert len(line.splitlines()) == 1
    assert not any(0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\u202e" for c in line)
    assert "\\u0085" in line and "\\u202e" in line
