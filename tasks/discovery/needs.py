"""Operations Luna cannot call with values of its own (`needs_input`).

Two kinds, judged by words like destructive detection (`model.destructive_reason`), for
every spec loader:

- it takes a value the server issues: a required parameter with no example, default or
  enum whose name ends in a word such as token, cursor or nonce (`page-token`,
  `nextCursor`): a page token or a signed nonce cannot be made up, only received;
- it issues an anti-forgery token: a word of its path is csrf or xsrf (`/csrf-token`,
  `/sanctum/csrf-cookie`): such a token is bound to a client session and the server's
  configuration, and Luna has no setting for one. (Token and login endpoints are not
  marked: Luna's auth settings hold the credentials they take, and k6 uses them.)

Such an endpoint is still written to the endpoints file, marked `"needs_input": "<why>"`:
load runs and generated suites leave it out and say so, until it is given real values
(a `{{data.COLUMN}}` placeholder with a data_file, or a literal) and the mark is removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.discovery.model import words

# Last word of a parameter name that only the server can give a valid value of.
SERVER_ISSUED = ("token", "cursor", "continuation", "nonce", "signature", "ticket")
# Words of a path that name an operation issuing an anti-forgery token.
ANTI_FORGERY = ("csrf", "xsrf")


def needs_input_reason(path: str, undeclared_required: Iterable[str]) -> str | None:
    """Why an operation cannot be called with generated values, or None. `path` is the
    spec's path template; `undeclared_required` the names of its required parameters
    that have no example, default or enum (their values would be made up)."""
    for name in undeclared_required:
        parts = words(name)
        if parts and parts[-1] in SERVER_ISSUED:
            return f"'{name}' is a value the server issues ({parts[-1]}), which cannot be made up"
    for word in words(path):
        if word in ANTI_FORGERY:
            return f"it issues an anti-forgery token ('{word}' in its path), bound to a client session"
    return None


def needs_input_summary(endpoints: Iterable[Any], limit: int = 8) -> str | None:
    """One warning naming the operations marked needs_input."""
    named = [e for e in endpoints if e.needs_input]
    if not named:
        return None
    shown = ", ".join(f"{e.method} {e.path.split('?')[0]} ({e.needs_input})" for e in named[:limit])
    more = f" and {len(named) - limit} more" if len(named) > limit else ""
    return (
        f"marked {len(named)} operations needs_input (load runs and suites leave them out until they are "
        f"given real values and the mark is removed): {shown}{more}"
    )
