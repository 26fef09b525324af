"""The one way text a server or a file controls reaches a screen: `visible(text)`.

A stream may carry terminal escapes (ESC, CSI, OSC), C1 controls and bidi overrides. Shown raw they
retitle the terminal, write the clipboard (OSC 52) or reorder what a person reads. Here every such
character becomes a visible escape (`\\x1b`, `\\x9b`, `\\u202e`): the text stays readable and exact,
and nothing in it is obeyed. Newline and tab pass. No Textual here: the plain mode and stderr use
`visible`, the TUI styles the escapes it gets from `control_runs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# C0 but tab and newline; DEL and C1; the Unicode bidi controls (embeddings, overrides, isolates,
# marks); the line and paragraph separators, which some terminals and JSON readers break lines on.
_CONTROLS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029"
)
_CONTROL = re.compile(f"[{_CONTROLS}]")
find_control = _CONTROL.search  # the first control in a text, or None: the quick test
_CONTROL_RUN = re.compile(f"[{_CONTROLS}]+")
# In JSON, what json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself): DEL, C1, the bidi
# controls and U+2028/U+2029.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_run(match: re.Match[str]) -> str:
    return "".join(_escape(char) for char in match.group())


def visible(text: str) -> str:
    """`text` with every control but newline and tab, and each bidi control, visibly escaped."""
    if find_control(text) is None:
        return text
    return _CONTROL_RUN.sub(_escape_run, text)


def control_runs(text: str) -> Iterator[tuple[str, bool]]:
    """`visible(text)` in pieces: (piece, True) for escaped controls, (piece, False) the rest."""
    start = 0
    for match in _CONTROL_RUN.finditer(text):
        if match.start() > start:
            yield text[start:match.start()], False
        yield _escape_run(match), True
        start = match.end()
    if start < len(text):
        yield text[start:], False


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_line(encoded: str) -> str:
    """A `json.dumps(..., ensure_ascii=False)` result with C1, bidi and U+2028/9 as `\\uXXXX`.

    Such characters can only stand inside JSON strings, where `\\uXXXX` means the same character:
    the value read back is unchanged, and every JSON Lines reader and terminal sees one plain line.
    """
    if _JSON_UNSAFE.search(encoded) is None:
        return encoded
    return _JSON_UNSAFE.sub(_json_escape, encoded)
