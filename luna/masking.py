"""The one secret masker of the code base (k6 output, suite output, the REPL, files k6
writes). Never log what it holds.

A secret is masked in every form it can take on the way out:

- as it is, JSON-escaped, and as Go's JSON encoder (k6) escapes it;
- URL-encoded (``quote`` and ``quote_plus``) and base64 (standard and URL-safe, padded
  or not);
- HTTP Basic: base64 of ``user:pass`` (so ``Basic <b64>`` too), and ``user:pass`` itself;
- tokens learnt at run time (a Keycloak exchange): :meth:`Masker.add`;
- and, whatever their value, the credential of an ``Authorization: Bearer`` value and the
  values of ``access_token`` / ``refresh_token`` / ``id_token`` / ``client_secret`` keys in
  JSON or a query string (a token Luna never saw, such as one a server echoes).

Longest forms go first so no secret leaks a tail.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_DERIVED = 6
TOKEN_KEYS = r"access_token|refresh_token|id_token|client_secret"
PATTERNS = (
    (re.compile(r"(Bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + MASK),
    (re.compile(rf'("(?:{TOKEN_KEYS})"\s*:\s*")[^"]*(")'), r"\1" + MASK + r"\2"),
    (re.compile(rf'(\\"(?:{TOKEN_KEYS})\\"\s*:\s*\\")(?:[^"\\]|\\[^"])*(\\")'), r"\1" + MASK + r"\2"),
    (re.compile(rf"([?&](?:{TOKEN_KEYS}|token|api_key|apikey|password)=)[^&#\s\"']*", re.IGNORECASE), r"\1" + MASK),
)


class _Secrets(Protocol):
    auth_basic_user: str | None

    def secret_values(self) -> list[str]: ...


def _b64(data: str) -> set[str]:
    raw = data.encode()
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return forms | {f.rstrip("=") for f in forms}


def forms_of(secret: str) -> set[str]:
    """Every derived form of one secret value that Luna or a runner may write (derived forms
    shorter than MIN_DERIVED are left out: they would mask ordinary text)."""
    escaped = json.dumps(secret)[1:-1]
    go = escaped.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    derived = {escaped, go, quote(secret, safe=""), quote_plus(secret), *_b64(secret)}
    return {secret} | {f for f in derived if len(f) >= MIN_DERIVED}


class Masker:
    """``Masker(secrets, basic=(user, password))``; call it on a text, or on JSON-like data."""

    def __init__(self, secrets: Iterable[str | None] = (), *, basic: tuple[str, str] | None = None) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)
        if basic is not None:
            pair = f"{basic[0]}:{basic[1]}"
            self._forms |= _b64(pair) | {pair, quote(pair, safe=""), json.dumps(pair)[1:-1]}
        self._sorted: list[str] | None = None

    @classmethod
    def from_settings(cls, settings: _Secrets, extra: Iterable[str | None] = ()) -> Masker:
        """Every secret of Luna's settings, Basic's ``user:pass`` included."""
        values = settings.secret_values()
        password = getattr(settings, "auth_basic_pass", None)
        user = settings.auth_basic_user
        basic = (user, password.get_secret_value()) if user and password is not None else None
        return cls([*values, *extra], basic=basic)

    def add(self, secret: str | None) -> None:
        """Mask this value from now on (a token obtained at run time)."""
        if secret:
            self._forms |= forms_of(secret)
            self._sorted = None

    @property
    def secrets(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._forms, key=len, reverse=True)
        return self._sorted

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def data(self, value: Any) -> Any:
        """Strings masked inside lists and dicts (keys included)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {self(str(k)): self.data(v) for k, v in value.items()}
        return value

    def file(self, path: Path) -> None:
        """Rewrite a text file masked in place (k6's summary export, a report)."""
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            masked = self(text)
            if masked != text:
                path.write_text(masked, encoding="utf-8")
