"""Injection safety for generated code: every untrusted value (names, paths, headers,
bodies, descriptions from a spec) reaches a generated file only through these functions.

- :func:`py_literal` turns JSON-like data into Python source (``repr`` of each string).
- :func:`js_literal` turns it into JavaScript source (JSON with ``<``, ``>``, ``&`` and
  every non-ASCII character escaped, so nothing can close a ``<script>`` or a line).
- :func:`comment_text` makes text safe inside a ``#`` or ``//`` comment (one ASCII line).
- :func:`identifier` / :class:`Names` make ``[A-Za-z_][A-Za-z0-9_]*`` names, unique per scope.
- :func:`file_slug` and :func:`inside` keep file names tame and paths inside the suite.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from pathlib import Path
from typing import Any

from luna.errors import GenerationError


def plain(value: Any) -> Any:
    """JSON-compatible copy: non-finite floats -> None, keys -> str, tuples -> lists,
    anything else -> its str(). Applied to every value before rendering."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


def py_literal(value: Any) -> str:
    """Python source for JSON-like data; ``ast.literal_eval(py_literal(x)) == plain(x)``."""
    value = plain(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    return repr(value)  # str, int, float, bool, None: repr is a valid literal


def js_literal(value: Any) -> str:
    """JavaScript source for JSON-like data: ASCII only (so U+2028/2029 are escaped too),
    and neither ``</`` nor ``<!--`` appears, so it is also safe inside an HTML script."""
    text = json.dumps(plain(value), ensure_ascii=True, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "\\u003c!--")


def comment_text(value: Any, limit: int = 200) -> str:
    """One printable ASCII line, for a ``#`` or ``//`` comment: no line break of any kind."""
    text = json.dumps(str(value), ensure_ascii=True)[1:-1]
    text = text.replace("*/", "* /")
    return text if len(text) <= limit else text[: limit - 3] + "..."


_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def identifier(text: str, *, prefix: str = "", lower: bool = True) -> str:
    """``[A-Za-z_][A-Za-z0-9_]*`` from any text: camelCase -> snake_case when `lower`."""
    words = _CAMEL.sub("_", str(text)) if lower else str(text)
    name = _NOT_IDENT.sub("_", words).strip("_")
    if lower:
        name = name.lower()
    name = re.sub(r"_+", "_", name) or "x"
    name = prefix + name
    if name[0].isdigit():
        name = "_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name[:80]


class Names:
    """Hands out unique identifiers within one scope (a module, a script)."""

    def __init__(self, reserved: set[str] | None = None) -> None:
        self.used: set[str] = set(reserved or ())

    def take(self, text: str, *, prefix: str = "", lower: bool = True) -> str:
        base = identifier(text, prefix=prefix, lower=lower)
        name, n = base, 2
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        return name


def file_slug(text: str, limit: int = 50) -> str:
    """``[a-z0-9-]`` only (no dots, no slashes): safe as a file or folder name."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in str(text).lower())
    return "-".join(part for part in cleaned.split("-") if part)[:limit].strip("-") or "x"


def inside(root: Path, relative: str) -> Path:
    """``root/relative`` resolved, or GenerationError when it would leave `root`
    (``..``, an absolute path, a symlink pointing elsewhere)."""
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or target == base:
        raise GenerationError(
            f"refusing to write {relative!r}: it resolves outside {base}",
            location=str(root),
            tip="generated files stay inside suites/<service>/; remove the symlink or fix the name",
        )
    return target


def js_number(value: Any) -> str:
    """A finite number as JavaScript source (booleans and non-finite values refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GenerationError(f"{value!r} is not a finite number", tip="SLOs and check limits must be finite numbers")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


JS_RESERVED = frozenset(
    [
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "await",
        "arguments",
        "eval",
        "undefined",
        "NaN",
        "Infinity",
    ]
)
