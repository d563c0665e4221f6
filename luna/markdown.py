"""Text that came from users' files, made safe for Prefect's markdown artifacts."""

from __future__ import annotations

import string
from typing import Any

MD_SPECIAL = frozenset(string.punctuation)


def md(value: Any) -> str:
    """Plain text for markdown: ASCII punctuation backslash-escaped, line breaks and other
    control characters turned into spaces. Safe inside GFM table cells."""
    out = []
    for ch in str(value):
        if ch in MD_SPECIAL:
            out.append("\\" + ch)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)
