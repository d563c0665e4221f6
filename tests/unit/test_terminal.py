"""Text from input reaches the terminal without escape sequences or control characters:
a hostile source name cannot clear the screen, set the window title or forge a line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.cli.main import main
from luna.text import SafeStream

pytestmark = pytest.mark.unit

HOSTILE = "spec\x1b]0;pwned\x07\x1b[2J\rFAKE\x08\x9b1m"


def test_cli_output_carries_no_control_characters(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(clean_env)
    spec = clean_env / f"{HOSTILE}.json"
    title = "T\x1b[2J\x1b]0;title\x07"
    paths = {"/a": {"get": {"summary": "S\x1b[H\r", "responses": {"200": {"description": "ok"}}}}}
    spec.write_text(json.dumps({"openapi": "3.0.3", "info": {"title": title, "version": "1"}, "paths": paths}))
    code = main(["discover", str(spec), "--out", str(clean_env / "e.json")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "pwned" in out.out or "spec" in out.out  # the name is shown...
    for text in (out.out, out.err):
        assert not any(c in text for c in "\x1b\x07\r\x08\x9b"), repr(text)  # ...without its controls


def test_safe_stream_keeps_colours_on_a_terminal_only() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for target in (tty, pipe):
        SafeStream(target).write("\x1b[1mbold\x1b[0m " + HOSTILE + "\n")
    assert tty.getvalue().startswith("\x1b[1mbold\x1b[0m ") and "\x1b[2J" not in tty.getvalue()
    assert "\x1b" not in pipe.getvalue() and pipe.getvalue().endswith("\n")
