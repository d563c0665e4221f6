"""Unit tests for the notify stage: signatures, payloads, LUNA_WEBHOOK_URLS, backoff,
settings, and plugin hooks loaded from real files in tmp_path."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from luna.errors import ConfigError, LunaError
from luna.results import Latency, RunResult, Stats
from luna.verdict import Verdict
from tasks.notify.hooks import HookContext, HookError, HookOutcome, call_hooks, discover_hooks
from tasks.notify.settings import webhook_settings
from tasks.notify.webhooks import (
    RunEvent,
    backoff_delay,
    build_payload,
    mask_url,
    parse_webhook_urls,
    run_event,
    sign,
    slack_payload,
    verify_signature,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-unit-0123456789"


def sample_result(run_dir: Path, status: str = "passed") -> RunResult:
    return RunResult(
        run_id="20250101-000000-smoke-ab12",
        service="Shop <API>",
        profile="smoke",
        target="http://127.0.0.1:8787",
        status=status,
        message="all thresholds held",
        started_at=datetime(2025, 1, 1, tzinfo=UTC),
        finished_at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
        total=Stats(requests=1200, rps=20.0, latency_ms=Latency(p50=12.0, p95=41.25, p99=80.0), error_rate=0.0012),
        run_dir=str(run_dir),
    )


def sample_event(run_dir: Path) -> RunEvent:
    links = {"report": "https://luna.example/report.html", "grafana": "https://grafana.example/d/k6"}
    return run_event(sample_result(run_dir), verdict="pass", links=links)


# ---- signature -------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"event":"run.finished"}'
    header = sign(body, SECRET, 1_700_000_000)
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert fields["t"] == "1700000000"
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def test_verify_signature_rejects_tampering_wrong_secret_and_replays() -> None:
    body = b'{"a":1}'
    now = int(time.time())
    header = sign(body, SECRET, now)
    assert verify_signature(body, header, SECRET)
    assert not verify_signature(b'{"a":2}', header, SECRET)
    assert not verify_signature(body, header, "another-secret")
    assert not verify_signature(body, sign(body, SECRET, now - 3600), SECRET)
    assert not verify_signature(body, "garbage", SECRET)


# ---- payloads --------------------------------------------------------------------------


def test_json_payload_shape(tmp_path: Path) -> None:
    payload = build_payload(sample_event(tmp_path))
    assert payload["event"] == "run.finished"
    assert payload["service"] == "Shop <API>" and payload["profile"] == "smoke"
    assert payload["run_id"] == "20250101-000000-smoke-ab12"
    assert payload["status"] == "passed" and payload["verdict"] == "pass"
    assert payload["message"] == "all thresholds held"
    assert payload["started_at"].startswith("2025-01-01T00:00:00")
    assert payload["finished_at"].startswith("2025-01-01T00:01:00")
    assert payload["totals"]["requests"] == 1200
    assert payload["totals"]["p95_ms"] == 41.25
    assert payload["totals"]["error_rate"] == 0.0012
    assert payload["links"] == {"report": "https://luna.example/report.html", "grafana": "https://grafana.example/d/k6"}
    json.dumps(payload)  # JSON-ready as is


def test_json_payload_survives_missing_keys() -> None:
    payload = build_payload(RunEvent())
    assert payload["event"] == "run.finished"
    assert payload["status"] is None and payload["verdict"] is None and payload["links"] == {}
    assert set(payload["totals"].values()) == {None}
    partial = build_payload(run_event({"status": "failed", "total": None}, links={"report": None}))
    assert partial["status"] == "failed" and partial["totals"]["p95_ms"] is None and partial["links"] == {}
    no_latency = build_payload(run_event({"total": {"requests": 3, "latency_ms": None}}))
    assert no_latency["totals"]["requests"] == 3 and no_latency["totals"]["p95_ms"] is None


def verdict_of(status: str) -> Verdict:
    return Verdict(
        service="s",
        profile="smoke",
        run_id="r",
        status=status,
        reason="why",
        headline="",
        overall=[],
        apdex=None,
        endpoints=[],
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (verdict_of("pass"), "pass"),
        (verdict_of("fail"), "fail"),
        ("pass", "pass"),
        ("fail", "fail"),
        (True, "pass"),
        (False, "fail"),
        (None, None),
    ],
)
def test_the_outcome_comes_from_a_verdict_or_pass_fail(verdict: Any, expected: str | None) -> None:
    assert run_event({}, verdict).verdict == expected
    assert build_payload(run_event({}, verdict))["verdict"] == expected


@pytest.mark.parametrize("guess", [{"verdict": "pass"}, {"status": "failed"}, {"ok": False}, "FAIL", "passed"])
def test_an_outcome_is_never_guessed_from_other_keys_or_words(guess: Any) -> None:
    """One run-event model (issue 16): whoever builds the event says pass or fail."""
    with pytest.raises(TypeError, match="a run's outcome is"):
        run_event({}, guess)


def test_slack_payload_is_block_kit_with_the_numbers_and_links(tmp_path: Path) -> None:
    message = slack_payload(sample_event(tmp_path))
    assert set(message) == {"text", "blocks"}
    assert "PASS" in message["text"] and "41.2 ms" in message["text"]
    section = message["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    text = section["text"]["text"]
    assert ":white_check_mark:" in text
    assert "Shop &lt;API&gt;" in text  # Slack's three escapes
    assert "smoke" in text and "41.2 ms" in text and "0.12%" in text
    assert "<https://luna.example/report.html|report>" in text
    assert "<https://grafana.example/d/k6|grafana>" in text
    assert all(block["type"] in {"section", "context"} for block in message["blocks"])


def test_slack_payload_falls_back_to_status_without_a_verdict(tmp_path: Path) -> None:
    event = run_event(sample_result(tmp_path, status="error"))
    assert ":warning:" in slack_payload(event)["blocks"][0]["text"]["text"]
    assert ":grey_question:" in slack_payload(RunEvent())["blocks"][0]["text"]["text"]


# ---- LUNA_WEBHOOK_URLS -----------------------------------------------------------------


def test_parse_webhook_urls_reads_formats_and_skips_blanks() -> None:
    targets = parse_webhook_urls(
        " https://ci.example/hook , slack+https://hooks.slack.com/services/T0/B0/abc,,http://127.0.0.1:9/x,"
        "https://ci.example/hook"
    )
    assert [(t.format, t.url) for t in targets] == [
        ("json", "https://ci.example/hook"),
        ("slack", "https://hooks.slack.com/services/T0/B0/abc"),
        ("json", "http://127.0.0.1:9/x"),
    ]
    assert parse_webhook_urls("") == [] and parse_webhook_urls(None) == []
    assert all(t.secret is None for t in targets)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("ftp://files.example/x", "scheme must be http or https"),
        ("not a url", "scheme must be http or https"),
        ("https://", "no host"),
        ("https://example.com:99999/", "not a valid URL"),
    ],
)
def test_parse_webhook_urls_rejects_bad_entries(value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_webhook_urls(f"https://ok.example/hook,{value}")
    text = str(info.value)
    assert text.startswith("config error: LUNA_WEBHOOK_URLS: entry 2")
    assert needle in text and "Tip:" in text and "\n" not in text


def test_parse_webhook_urls_suggests_slack_prefix_and_hides_credentials() -> None:
    with pytest.raises(ConfigError, match="did you mean 'slack'"):
        parse_webhook_urls("slak+https://hooks.slack.com/services/T0/B0/abc")
    with pytest.raises(ConfigError) as info:
        parse_webhook_urls("ftp://user:pa55word@files.example/x?token=tok-123")
    assert "pa55word" not in str(info.value) and "tok-123" not in str(info.value)


def test_mask_url_hides_userinfo_query_and_tokens() -> None:
    assert (
        mask_url("https://u:p@ci.example:8443/hook?token=abc&x=1#f")
        == "https://***@ci.example:8443/hook?token=***&x=***"
    )
    assert (
        mask_url("https://hooks.slack.com/services/T000/B000/XXXX", hide_path=True)
        == "https://hooks.slack.com/services/***"
    )
    assert (
        mask_url("https://discord.com/api/webhooks/123/aB3dEfGhIjKlMnOpQr")
        == "https://discord.com/api/webhooks/123/***"
    )


# ---- backoff ---------------------------------------------------------------------------


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    assert backoff_delay(1, 0.5, 8, rand=lambda: 0.0) == 0.25
    assert backoff_delay(1, 0.5, 8, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 8, rand=lambda: 1.0) == 2.0
    assert backoff_delay(10, 0.5, 8, rand=lambda: 1.0) == 8.0
    assert all(2.0 <= backoff_delay(4, 0.5, 8) <= 4.0 for _ in range(50))


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    assert backoff_delay(1, 0.5, 8, retry_after=3) == 3
    assert backoff_delay(1, 0.5, 8, retry_after=120) == 8


# ---- settings --------------------------------------------------------------------------


@pytest.fixture
def no_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(clean_env)
    return clean_env


def test_webhook_settings_defaults(no_env: Path) -> None:
    settings = webhook_settings()
    assert settings.targets() == [] and settings.secret() is None
    assert settings.luna_hooks_dir == Path("hooks") and settings.luna_hooks_strict is False
    assert not settings.hooks_dir_is_explicit


def test_webhook_settings_from_environment(no_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNA_WEBHOOK_URLS", "https://a.example/h,slack+https://hooks.slack.com/services/T/B/tok")
    monkeypatch.setenv("LUNA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("LUNA_HOOKS_DIR", "my-hooks")
    monkeypatch.setenv("LUNA_HOOKS_STRICT", "true")
    settings = webhook_settings()
    assert [t.format for t in settings.targets()] == ["json", "slack"]
    secret = settings.secret()
    assert secret is not None and secret.get_secret_value() == SECRET
    assert settings.luna_hooks_dir == Path("my-hooks") and settings.luna_hooks_strict is True
    assert settings.hooks_dir_is_explicit
    assert SECRET not in repr(settings) and "services/T/B/tok" not in repr(settings)


def test_webhook_settings_errors_name_the_variable(no_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNA_HOOKS_STRICT", "maybe")
    with pytest.raises(ConfigError, match=r"^config error: LUNA_HOOKS_STRICT: .*'maybe'"):
        webhook_settings()
    monkeypatch.setenv("LUNA_HOOKS_STRICT", "false")
    monkeypatch.setenv("LUNA_WEBHOOK_SECRET", "")
    assert webhook_settings().secret() is None


# ---- hooks -----------------------------------------------------------------------------


def write(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


GOOD = """
    import json
    from pathlib import Path

    def on_run_start(context):
        Path(context.run_dir, "good-start.json").write_text(context.model_dump_json())

    def on_run_finish(context):
        Path(context.run_dir, "good-finish.json").write_text(context.model_dump_json())
"""
RAISES = """
    def on_run_finish(context):
        raise RuntimeError("boom\\nsecond line")
"""
BROKEN = """
    def on_run_finish(context)
        pass
"""
SLOW = """
    import time

    def on_run_finish(context):
        time.sleep(3)
"""


@pytest.fixture
def hooks_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "hooks"
    write(folder, "a_good.py", GOOD)
    write(folder, "b_raises.py", RAISES)
    write(folder, "c_broken.py", BROKEN)
    write(folder, "d_slow.py", SLOW)
    write(folder, "_helpers.py", "raise SystemExit('never imported')\n")
    write(folder, "e_nothing.py", "VALUE = 1\n")
    write(folder, "notes.txt", "not python\n")
    return folder


def finish_context(run_dir: Path) -> HookContext:
    run_dir.mkdir(parents=True, exist_ok=True)
    return HookContext.at_finish(sample_result(run_dir), verdict=verdict_of("pass"))


def by_name(outcomes: list[HookOutcome]) -> dict[str, HookOutcome]:
    return {o.name: o for o in outcomes}


def test_discovery_loads_good_files_and_reports_broken_ones(hooks_dir: Path) -> None:
    hooks = discover_hooks(hooks_dir)
    assert [h.name for h in hooks] == ["a_good", "b_raises", "c_broken", "d_slow"]
    good, raises, broken, slow = hooks
    assert good.on_run_start is not None and good.on_run_finish is not None and good.error is None
    assert raises.on_run_start is None and raises.on_run_finish is not None
    assert broken.error is not None and broken.error.startswith("import failed: SyntaxError")
    assert slow.path == hooks_dir / "d_slow.py"
    assert discover_hooks(hooks_dir / "missing") == []


def test_same_stem_in_two_folders_loads_as_two_modules(tmp_path: Path) -> None:
    write(tmp_path / "one", "hook.py", "def on_run_start(context):\n    return 1\n")
    write(tmp_path / "two", "hook.py", "def on_run_start(context):\n    return 2\n")
    first, second = discover_hooks(tmp_path / "one")[0], discover_hooks(tmp_path / "two")[0]
    assert first.on_run_start is not None and second.on_run_start is not None
    assert first.on_run_start.__module__ != second.on_run_start.__module__
    assert (first.on_run_start(None), second.on_run_start(None)) == (1, 2)


def test_call_hooks_reports_failures_and_timeouts_without_raising(hooks_dir: Path, tmp_path: Path) -> None:
    context = finish_context(tmp_path / "run")
    started = time.monotonic()
    outcomes = by_name(call_hooks(discover_hooks(hooks_dir), "finish", context, timeout_s=0.5))
    elapsed = time.monotonic() - started
    assert set(outcomes) == {"a_good", "b_raises", "c_broken", "d_slow"}
    assert outcomes["a_good"].ok and outcomes["a_good"].error is None
    assert outcomes["b_raises"].error == "RuntimeError: boom second line"
    assert not outcomes["c_broken"].ok and "SyntaxError" in (outcomes["c_broken"].error or "")
    assert outcomes["d_slow"].error == "timed out after 0.5 s"
    assert 0.5 <= outcomes["d_slow"].duration_s < 1.5
    assert elapsed < 2.5
    assert all(o.phase == "finish" for o in outcomes.values())
    seen = json.loads((tmp_path / "run" / "good-finish.json").read_text())
    assert seen["phase"] == "finish" and seen["result"]["status"] == "passed"
    assert seen["verdict"] == verdict_of("pass").model_dump(mode="json")


def test_start_phase_calls_only_start_functions(hooks_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    context = HookContext(run_id="r1", profile="smoke", target="http://x", run_dir=str(tmp_path / "run"), phase="start")
    outcomes = call_hooks(discover_hooks(hooks_dir), "start", context)
    assert [(o.name, o.ok) for o in outcomes] == [("a_good", True), ("c_broken", False)]
    assert json.loads((tmp_path / "run" / "good-start.json").read_text())["phase"] == "start"


def test_strict_mode_raises_hook_error_after_running_all(tmp_path: Path) -> None:
    folder = tmp_path / "hooks"
    write(folder, "a_raises.py", RAISES)
    write(folder, "b_good.py", GOOD)
    with pytest.raises(HookError) as info:
        call_hooks(discover_hooks(folder), "finish", finish_context(tmp_path / "run"), strict=True)
    error = info.value
    assert isinstance(error, LunaError) and error.kind == "hook error"
    assert str(error).startswith("hook error: 1 hook(s) failed: a_raises (finish): RuntimeError: boom")
    assert "Tip:" in str(error) and "\n" not in str(error)
    assert (tmp_path / "run" / "good-finish.json").exists()  # the others still ran


def test_hooks_get_a_copy_of_the_context(tmp_path: Path) -> None:
    folder = tmp_path / "hooks"
    write(
        folder,
        "a_mutate.py",
        """
        def on_run_finish(context):
            context.result["status"] = "hacked"
            context.result["total"]["requests"] = -1
            context.verdict.clear()
            try:
                context.run_id = "other"
            except Exception:
                pass
        """,
    )
    write(folder, "b_observe.py", GOOD)
    context = finish_context(tmp_path / "run")
    before = context.model_dump()
    outcomes = call_hooks(discover_hooks(folder), "finish", context)
    assert all(o.ok for o in outcomes)
    assert context.model_dump() == before
    seen = json.loads((tmp_path / "run" / "good-finish.json").read_text())
    assert seen["result"]["status"] == "passed" and seen["result"]["total"]["requests"] == 1200
    assert seen["verdict"] == verdict_of("pass").model_dump(mode="json") and seen["run_id"] == context.run_id


def test_async_hooks_are_awaited(tmp_path: Path) -> None:
    folder = tmp_path / "hooks"
    write(
        folder,
        "aio.py",
        """
        import asyncio
        from pathlib import Path

        async def on_run_finish(context):
            await asyncio.sleep(0.01)
            Path(context.run_dir, "aio.txt").write_text(context.run_id)
        """,
    )
    context = finish_context(tmp_path / "run")
    assert [o.ok for o in call_hooks(discover_hooks(folder), "finish", context)] == [True]
    assert (tmp_path / "run" / "aio.txt").read_text() == context.run_id


def test_the_example_hook_appends_one_line(tmp_path: Path) -> None:
    hooks = discover_hooks(ROOT / "hooks")
    assert "example_log_summary" in [h.name for h in hooks]
    context = finish_context(tmp_path / "run")
    for _ in range(2):
        outcomes = call_hooks(hooks, "finish", context)
        assert all(o.ok for o in outcomes), outcomes
    lines = (tmp_path / "run" / "hook-example.log").read_text().splitlines()
    assert len(lines) == 2
    assert f"run={context.run_id} status=passed p95_ms=41.2" in lines[0]
    assert call_hooks(hooks, "start", context.model_copy(update={"phase": "start"})) == []
    gone = context.model_copy(update={"run_dir": str(tmp_path / "missing")})
    assert all(o.ok for o in call_hooks(hooks, "finish", gone))
    assert not (tmp_path / "missing").exists()


def test_bad_phase_and_bad_context_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="phase must be one of"):
        call_hooks([], "middle", HookContext(run_id="r", run_dir=str(tmp_path), phase="start"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="typo"):
        HookContext.model_validate({"run_id": "r", "run_dir": str(tmp_path), "phase": "start", "typo": 1})
