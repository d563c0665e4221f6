"""Injection safety of generated suites: a deliberately hostile spec and endpoints file
(quotes, backticks, ``${}``, newlines, U+2028, ``{{ }}``, ``{% %}``, ``</script>``,
``../``, ``__import__``) must give files that parse, lint clean, stay inside the suite
folder, execute nothing, and send exactly the hostile values as data."""

from __future__ import annotations

import ast
import configparser
import json
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from luna.settings import load_settings
from tasks.generation.runner import run_suite_dir
from tasks.generation.suites import GenerateParams, generate_suite
from tasks.generation.write import ruff_binary

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent

PWN = "__import__('pathlib').Path('PWNED').touch()"
NASTY = "'\"`${globalThis.PWN=1}`</script>\u2028{{ 7*7 }}{% if 1 %}x{% endif %}\\"
GROUP = "g'\"`${exit(1)}</script>\u2028{{ 7*7 }}{% raw %}../../\n" + PWN
BODY = {
    "k'\"": ["'''", '"""', "`${1}`", "\n\u2028\u2029", NASTY, PWN],
    PWN: {"{{ x }}": "{% endraw %}", "../../": None},
}
HEADER_VALUE = "\"'`${x}</script>{{7}}{%x%}" + PWN


def hostile_endpoints_file(path: Path) -> Path:
    data = {
        "service": "Evil\"'`${x}</script>\n{{7*7}}{% raw %}../../x",
        "slos": {"p95_ms": 2000, "error_rate": 0.5},
        "endpoints": [
            {
                "name": "evil.one",
                "group": GROUP,
                "method": "POST",
                "path": "/a'\"`${x}/%7B%7B/{{faker.word}}/..%2F../x?q=</script>" + PWN,
                "body": BODY,
                "headers": {"X-Evil": HEADER_VALUE},
                "checks": {
                    "status": [200, 201],
                    "body_contains": "ok",
                    "header_present": "X-Ev'il\"`${x}",
                    "body_path": "a.b'\"`${x}",
                },
            },
            {
                "name": "evil-two",
                "group": "{% endraw %}" + GROUP[:80],
                "type": "graphql",
                "path": "/graphql'\"",
                "query": '{ a(x: "\'`${}\\n") }\n#' + PWN,
                "variables": {"v": NASTY},
                "checks": {"no_graphql_errors": True, "has_data": True},
            },
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def hostile_openapi(path: Path) -> Path:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Spec\"'`${x}\n</script>{{7*7}}" + PWN, "version": "1"},
        "paths": {
            "/p'\"`${x}</script>{{7*7}}": {
                "get": {
                    "operationId": PWN,
                    "tags": [GROUP],
                    "summary": "\"\"\"\n'''",
                    "responses": {
                        "200": {"description": "ok", "content": {"text/html": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/items/{id}": {
                "post": {
                    "operationId": "x`${y}`",
                    "tags": ["{% raw %}\n{{ x }}"],
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "example": "../'\"`",
                        },
                        {"name": "X-H", "in": "header", "schema": {"type": "string"}, "example": "'\"`${x}"},
                    ],
                    "requestBody": {"content": {"application/json": {"example": BODY}}},
                    "responses": {
                        "200": {
                            "description": '*/ """ </script>',
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "description": '*/ """ </script>' + PWN,
                                        "properties": {"a'\"": {"type": "string", "pattern": "^'\"`$"}},
                                    }
                                }
                            },
                        }
                    },
                }
            },
        },
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with a small JSON body and records what arrived."""

    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        Recorder.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        payload = b'{"ok": true, "data": {"x": 1}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _check_files(suite: Path, workdir: Path) -> None:
    for path in _all_files(suite):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".ini":
            configparser.ConfigParser().read_string(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".js":
            done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
    ruff = ruff_binary()
    assert ruff, "ruff is a dev dependency"
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([ruff, *args], cwd=suite, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    # k6 evaluates the script's init code: injected code would run (or break) here.
    done = subprocess.run(
        [str(BIN / "k6"), "inspect", str(suite / "k6" / "script.js")], capture_output=True, text=True, cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)
    assert "PWN" not in json.dumps(options.get("setup_data") or {})
    # Collecting imports every test module: nothing may execute.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(suite)],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("source", ["endpoints file", "openapi"])
def test_hostile_input_gives_safe_files(source: str, tmp_path: Path, recorder: str, clean_env: Path) -> None:
    suites = tmp_path / "out" / "suites"
    if source == "openapi":
        params = GenerateParams(
            specs=[str(hostile_openapi(tmp_path / "spec.json"))], base_url=recorder, out_dir=str(suites)
        )
    else:
        config = hostile_endpoints_file(tmp_path / "endpoints.json")
        params = GenerateParams(config=str(config), base_url=recorder, pages=["/'\"`${x}"], out_dir=str(suites))
    made = generate_suite(params, load_settings())
    suite = made.suite_dir
    assert suite.parent == suites.resolve() and suite.name.replace("-", "").isalnum()
    assert all(p.resolve().is_relative_to(suite) for p in _all_files(tmp_path / "out"))
    assert made.manifest is not None and made.manifest.kinds == ["api", "ui", "k6", "lighthouse"]
    _check_files(suite, tmp_path)
    assert not list(tmp_path.rglob("PWNED")) and not list(Path.cwd().glob("PWNED"))

    if source == "openapi":
        return
    # Run the API tests for real: the hostile strings arrive as data, byte for byte.
    Recorder.seen.clear()
    run = run_suite_dir(suite, ["api"], settings=load_settings(), out_dir=tmp_path / "run")
    assert not list(tmp_path.rglob("PWNED"))
    assert len(run.cases) == made.manifest.tests["api"] == 2
    rest = next(r for r in Recorder.seen if r["method"] == "POST" and r["path"].startswith("/a"))
    assert json.loads(rest["body"]) == BODY
    assert rest["headers"]["X-Evil"] == HEADER_VALUE
    gql = next(r for r in Recorder.seen if r["path"].startswith("/graphql"))
    assert json.loads(gql["body"]) == {"query": '{ a(x: "\'`${}\\n") }\n#' + PWN, "variables": {"v": NASTY}}
    failed = {c.test.split("::")[-1]: c.message for c in run.cases if c.outcome == "failed"}
    # The hostile body path check fails (the server's body has no such key), value quoted.
    assert "the body has no 'a.b\\'\"`${x}'" in failed["test_evil_one"], failed
