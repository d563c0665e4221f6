"""Text from outside (spec names and summaries, server bodies, k6 output) made safe for a
terminal: :func:`printable` removes ANSI/OSC escape sequences and every other C0/C1 control
character (CR, BS, BEL, ESC...), so a hostile spec cannot clear the screen, set the window
title or forge lines. Newlines survive only where the caller allows them."""

from __future__ import annotations

import re

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
