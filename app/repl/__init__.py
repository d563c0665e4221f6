"""``luna repl`` (alias ``luna cli``): an interactive shell for one-shot API calls, and
``luna health`` (health.py).

The core is :class:`ReplSession`, fed one line at a time (``session.execute(line)``), so
tests drive it without a terminal; :func:`run_interactive` adds readline (history file,
line editing) around it.

Lines::

    GET /api/users                     any method; a path (joined to the target) or a full URL
    POST /api/users {"name": "Ada"}    a JSON body (or plain text) after the path
    !!                                 repeat the last request
    health                             probe the target's health endpoint
    header X-Trace: 1                  add a header to every request (`header -X-Trace` removes it)
    headers                            show the session headers (credentials masked)
    target http://127.0.0.1:8787       switch the target
    auth | auth off | auth on          show or toggle the credentials from AUTH_* settings
    history                            requests of this session
    help, exit

Credentials come from Luna's settings (bearer, basic, API key, or a Keycloak client
credentials token fetched and refreshed as needed), are sent only to the target's origin,
and never printed: every secret value is masked in what the session shows.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from app.repl.health import HealthResult, check_health
from luna.errors import LunaError
from luna.masking import Masker
from luna.settings import LunaSettings, load_settings
from luna.text import printable

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PREVIEW_LINES = 40
PREVIEW_CHARS = 4000
MASK = "********"
HISTORY_FILE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "luna" / "repl_history"


@dataclass
class Exchange:
    """One request of the session and its outcome."""

    method: str
    url: str
    status: int | None
    ms: float
    error: str | None = None


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class Credentials(httpx.Auth):
    """AUTH_* settings as an httpx auth flow; Keycloak tokens are fetched and refreshed."""

    def __init__(self, settings: LunaSettings, client: httpx.Client, masker: Masker | None = None) -> None:
        self.settings, self.client = settings, client
        self.masker = masker or Masker.from_settings(settings)
        self._token: str | None = None
        self._expires = 0.0

    def _keycloak_token(self) -> str:
        s = self.settings
        if self._token and time.monotonic() < self._expires:
            return self._token
        url = f"{(s.auth_host or '').rstrip('/')}/realms/{s.auth_realm}/protocol/openid-connect/token"
        secret = s.auth_client_secret.get_secret_value() if s.auth_client_secret else ""
        try:
            response = self.client.post(
                url,
                data={"grant_type": "client_credentials", "client_id": s.auth_client_id or "", "client_secret": secret},
            )
        except httpx.HTTPError as exc:
            raise LunaError(f"Keycloak token request to {url} failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise LunaError(
                f"Keycloak token request to {url} answered {response.status_code}",
                tip="check AUTH_HOST, AUTH_REALM, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET",
            )
        body = response.json()
        self._token = str(body["access_token"])
        self.masker.add(self._token)  # a token learnt at run time is masked like any secret
        self._expires = time.monotonic() + max(5.0, float(body.get("expires_in", 60)) - 30)
        return self._token

    def auth_flow(self, request: httpx.Request) -> Any:
        s = self.settings
        mode = s.auth_mode
        if mode == "bearer" and s.auth_token:
            request.headers["Authorization"] = f"Bearer {s.auth_token.get_secret_value()}"
        elif mode == "basic" and s.auth_basic_pass:
            pair = f"{s.auth_basic_user or ''}:{s.auth_basic_pass.get_secret_value()}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif mode == "api_key" and s.auth_api_key:
            request.headers[s.auth_api_key_header] = s.auth_api_key.get_secret_value()
        elif mode == "keycloak":
            request.headers["Authorization"] = f"Bearer {self._keycloak_token()}"
        yield request


class ReplSession:
    """The REPL's state and commands; ``execute(line)`` returns False when the user quits."""

    def __init__(
        self,
        target: str | None = None,
        *,
        settings: LunaSettings | None = None,
        use_auth: bool = True,
        console: Console | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings or load_settings()
        self.target = (target or self.settings.base_url).rstrip("/")
        self.console = console or Console()
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self.timeout = timeout
        self.use_auth = use_auth
        self.headers: dict[str, str] = {}
        self.history: list[Exchange] = []
        self.last_request: str | None = None
        self.masker = Masker.from_settings(self.settings)
        self.credentials = Credentials(self.settings, self.client, self.masker)

    # ---- output helpers -------------------------------------------------------------

    def mask(self, text: str) -> str:
        return printable(self.masker(text), newlines=True)

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(escape(self.mask(text)), style=style, soft_wrap=True, highlight=False)

    def sensitive(self, line: str) -> bool:
        """True for a line that must not reach the history file (a secret, a credential header)."""
        lowered = line.lower()
        if lowered.startswith("header") and any(w in lowered for w in ("authorization", "cookie", "key", "token")):
            return True
        return self.masker(line) != line

    # ---- dispatch -------------------------------------------------------------------

    def execute(self, line: str) -> bool:
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        command = word.lower()
        try:
            if command in ("exit", "quit", "q"):
                return False
            if word.upper() in METHODS:
                self.last_request = line
                self.request(word.upper(), *self._path_and_body(rest))
            elif command == "!!":
                if self.last_request is None:
                    self.say("no request yet", "yellow")
                else:
                    return self.execute(self.last_request)
            elif command == "health":
                self.show_health(check_health(self.client, self.target))
            elif command == "header":
                self.set_header(rest)
            elif command == "headers":
                self.show_headers()
            elif command == "target":
                self.set_target(rest)
            elif command == "auth":
                self.auth(rest.strip().lower())
            elif command == "history":
                self.show_history()
            elif command in ("help", "?"):
                self.console.print(__doc__.split("Lines::", 1)[1].split("Credentials come", 1)[0].rstrip())
            else:
                self.say(f"unknown command {word!r}: type `help`, or a request such as `GET /api/users`", "yellow")
        except LunaError as exc:
            self.say(exc.one_line(), "red")
        return True

    @staticmethod
    def _path_and_body(rest: str) -> tuple[str, str | None]:
        path, _, body = rest.strip().partition(" ")
        if not path:
            raise LunaError("a request needs a path", tip="e.g. `GET /api/users`")
        return path, body.strip() or None

    # ---- commands -----------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.target + "/", path.lstrip("/"))

    def request(self, method: str, path: str, body: str | None = None) -> httpx.Response | None:
        url = self.url_for(path)
        same_origin = origin(url) == origin(self.target)
        kwargs: dict[str, Any] = {"headers": dict(self.headers)}
        if body is not None:
            try:
                kwargs["json"] = json.loads(body)
            except ValueError:
                kwargs["content"] = body.encode("utf-8")
                kwargs["headers"].setdefault("Content-Type", "text/plain; charset=utf-8")
        if self.use_auth and same_origin and self.settings.auth_mode != "none":
            kwargs["auth"] = self.credentials
        started = time.perf_counter()
        try:
            response = self.client.request(method, url, **kwargs)  # the client's timeout applies
        except httpx.HTTPError as exc:
            ms = (time.perf_counter() - started) * 1000
            reason = str(exc) or type(exc).__name__
            self.history.append(Exchange(method, url, None, ms, reason))
            self.say(f"{method} {url}: {type(exc).__name__}: {reason}", "red")
            return None
        ms = (time.perf_counter() - started) * 1000
        self.history.append(Exchange(method, url, response.status_code, ms))
        self.show_response(response, ms)
        if not same_origin and self.use_auth and self.settings.auth_mode != "none":
            self.say("(credentials not sent: another origin than the target)", "dim")
        return response

    def show_response(self, response: httpx.Response, ms: float) -> None:
        color = "green" if response.status_code < 300 else "yellow" if response.status_code < 500 else "red"
        size = len(response.content)
        self.console.print(
            f"[bold {color}]{response.status_code} {escape(response.reason_phrase)}[/]  "
            f"{ms:.1f} ms  {size} bytes  {escape(self.mask(str(response.request.method)))} "
            f"{escape(self.mask(str(response.url)))}",
            soft_wrap=True,
            highlight=False,
        )
        table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
        table.add_column(style="cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in response.headers.items():
            table.add_row(escape(name), escape(self.mask(value)))
        self.console.print(table)
        self.show_body(response)

    def show_body(self, response: httpx.Response) -> None:
        if not response.content:
            return
        ctype = response.headers.get("content-type", "")
        text = response.text
        lexer = "text"
        if "json" in ctype:
            with contextlib.suppress(ValueError):
                text, lexer = json.dumps(response.json(), indent=2, ensure_ascii=False), "json"
        elif "html" in ctype or "xml" in ctype:
            lexer = "html" if "html" in ctype else "xml"
        elif not ctype.startswith("text/") and "\x00" in text:
            self.say(f"({len(response.content)} bytes of {ctype or 'binary data'})", "dim")
            return
        text = self.mask(text)
        lines = text.splitlines()
        cut = len(lines) > PREVIEW_LINES or len(text) > PREVIEW_CHARS
        preview = "\n".join(lines[:PREVIEW_LINES])[:PREVIEW_CHARS]
        self.console.print(Syntax(preview, lexer, theme="ansi_dark", word_wrap=True, background_color="default"))
        if cut:
            self.say(f"... {len(lines)} lines, {len(response.content)} bytes in all (preview cut)", "dim")

    def set_header(self, rest: str) -> None:
        rest = rest.strip()
        if rest.startswith("-"):
            removed = self.headers.pop(rest[1:].strip(), None)
            self.say(f"removed {rest[1:].strip()}" if removed is not None else f"no header {rest[1:].strip()}")
            return
        name, sep, value = rest.partition(":")
        if not sep or not name.strip():
            raise LunaError("use `header Name: value` (or `header -Name` to remove it)")
        self.headers[name.strip()] = value.strip()
        self.say(f"every request now sends {name.strip()}")

    def show_headers(self) -> None:
        if not self.headers:
            self.say("no session headers (`header Name: value` adds one)")
        for name, value in self.headers.items():
            shown = MASK if name.lower() in ("authorization", "cookie", "x-api-key") else value
            self.say(f"{name}: {shown}")

    def set_target(self, rest: str) -> None:
        url = rest.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LunaError(f"target {url!r} is not an http(s) URL", tip="e.g. `target http://127.0.0.1:8787`")
        self.target = url
        self.say(f"target: {url}")

    def auth(self, arg: str) -> None:
        if arg in ("off", "on"):
            self.use_auth = arg == "on"
        mode = self.settings.auth_mode
        if mode == "none":
            self.say(
                "auth: none configured (set AUTH_TOKEN, AUTH_BASIC_*, AUTH_API_KEY or the Keycloak AUTH_* settings)"
            )
            return
        s = self.settings
        detail = {
            "bearer": f"Authorization: Bearer {MASK}",
            "basic": f"Basic {s.auth_basic_user}:{MASK}",
            "api_key": f"{s.auth_api_key_header}: {MASK}",
            "keycloak": f"Keycloak client {s.auth_client_id} at {s.auth_host} realm {s.auth_realm} (secret {MASK})",
        }[mode]
        self.say(f"auth: {mode} ({detail}), {'on' if self.use_auth else 'off'}, sent to {self.target} only")

    def show_history(self) -> None:
        if not self.history:
            self.say("no requests yet")
            return
        table = Table("#", "request", "status", "ms", box=None, pad_edge=False)
        for i, ex in enumerate(self.history[-50:], start=max(1, len(self.history) - 49)):
            status = str(ex.status) if ex.status is not None else f"[red]{escape(ex.error or 'error')}[/]"
            table.add_row(str(i), escape(self.mask(f"{ex.method} {ex.url}")), status, f"{ex.ms:.1f}")
        self.console.print(table)

    def show_health(self, result: HealthResult) -> None:
        style = "green" if result.ok else "red"
        status = result.status if result.status is not None else "-"
        self.say(
            f"{'healthy' if result.ok else 'UNHEALTHY'}: {result.url} {status} {result.ms:.1f} ms {result.detail}",
            style,
        )


def run_interactive(target: str | None = None, *, use_auth: bool = True) -> int:
    """The terminal REPL: readline editing and a history file around a ReplSession."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        readline = None  # type: ignore[assignment]
    session = ReplSession(target, use_auth=use_auth)
    if readline is not None:
        try:
            HISTORY_FILE.parent.mkdir(parents=True, exist_ok=True)
            if HISTORY_FILE.exists():
                readline.read_history_file(HISTORY_FILE)
        except OSError:
            pass
        readline.set_history_length(1000)
    session.console.print(
        f"Luna REPL on [bold]{escape(session.target)}[/] (auth: {session.settings.auth_mode}). "
        "`help` lists commands, Ctrl-D quits.",
        highlight=False,
    )
    try:
        while True:
            try:
                line = input(f"luna {urlsplit(session.target).netloc}> ")
            except KeyboardInterrupt:
                print()
                continue
            except EOFError:
                print()
                break
            if readline is not None and session.sensitive(line):
                readline.remove_history_item(readline.get_current_history_length() - 1)  # keep it out of the file
            if not session.execute(line):
                break
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(HISTORY_FILE)
        session.client.close()
    return 0
