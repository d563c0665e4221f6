"""Text from outside (spec names and summaries, server bodies, k6 output) made safe for a
terminal: :func:`printable` removes ANSI/OSC escape sequences and every other C0/C1 control
character (CR, BS, BEL, ESC...), so a hostile spec cannot clear the screen, set the window
title or forge lines. Newlines survive only where the caller allows them."""

from __future__ import annotations

import re
from typing import Any

# ESC [ ... final byte (CSI), ESC ] ... BEL/ST (OSC), ESC + one byte, and the 8-bit CSI/OSC forms
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07]*\x07?"
)
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROLS_AND_NEWLINES = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object, *, newlines: bool = False) -> str:
    """`text` without escape sequences and control characters. Tabs become a space; with
    ``newlines=False`` (one-line output) a newline also becomes a space."""
    out = ESCAPES.sub("", str(text)).replace("\t", " ")
    if newlines:
        return CONTROLS.sub("", out.replace("\r\n", "\n"))
    return CONTROLS_AND_NEWLINES.sub(" ", out.replace("\r\n", " "))


SGR = re.compile(r"\x1b\[[0-9;]*m")


class SafeStream:
    """A text stream that writes :func:`printable` text (newlines kept). On a terminal the
    colour codes (SGR, ``ESC[...m``) that Luna's own tables use survive; every other escape
    sequence (clear screen, cursor moves, window title) and control character is dropped,
    whoever wrote it. Installed on stdout/stderr by the CLI."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._colours = bool(getattr(stream, "isatty", lambda: False)())

    def write(self, text: str) -> int:
        if self._colours:
            kept = SGR.split(text)
            codes = SGR.findall(text)
            safe = printable(kept[0], newlines=True)
            for code, part in zip(codes, kept[1:], strict=True):
                safe += code + printable(part, newlines=True)
        else:
            safe = printable(text, newlines=True)
        self._stream.write(safe)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
