"""Visual QA for real: Chromium (Debian's, through Playwright) loads the demo's pages,
the probes run in them, and the personas' calls go through the real `anthropic` SDK to
a local server speaking the Messages API wire format (tests/fake_anthropic.py)."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import pytest

from luna.settings import LunaSettings, load_settings
from tasks.visual_qa.ai import ask_personas, cache_group
from tasks.visual_qa.model import Capture
from tasks.visual_qa.personas import VIEWPORTS, load_personas, select
from tasks.visual_qa.run import NO_KEY, run_visual_qa
from tests.conftest import Demo, free_port
from tests.fake_anthropic import API_KEY, FakeAnthropic

pytestmark = pytest.mark.integration
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("VISUAL_QA_AI_KEY", "VISUAL_QA_AI_BASE_URL", "VISUAL_QA_CONCURRENCY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return clean_env


def with_fake(fake: FakeAnthropic, **over: Any) -> LunaSettings:
    return load_settings(visual_qa_ai_key=API_KEY, visual_qa_ai_base_url=fake.url, **over)


def test_probes_find_every_planted_problem_without_a_key(demo: Demo, env: Path) -> None:
    lines: list[str] = []
    result = run_visual_qa(f"{demo.url}/qa-lab", "mobile-user,content-editor", log=lines.append)
    assert lines == [NO_KEY]  # one clear line
    assert [p.status for p in result.personas] == ["skipped", "skipped"] and result.usage.input_tokens == 0
    by_kind: dict[str, list[Any]] = {}
    for f in result.probe.findings:
        by_kind.setdefault(f.category, []).append(f)
    assert "luna-logo.svg" in by_kind["missing-alt"][0].description
    assert "no-such-image.png" in by_kind["broken-image"][0].description
    assert by_kind["form-label"][0].description == "form field 'email' has no label"
    overflow = {f.viewport: f for f in by_kind["horizontal-overflow"]}
    assert set(overflow) == {"mobile"} and "div.banner" in overflow["mobile"].location  # desktop is wide enough
    assert any("planted console error" in f.description for f in by_kind["console-error"])
    assert any("no-such-image.png: HTTP 404" in f.description for f in by_kind["failed-request"])
    assert "axe:image-alt" in by_kind and result.probe.axe_violations >= 1
    run_dir = Path(result.run_dir)
    assert {c.viewport for c in result.captures} == {"desktop", "mobile"}
    agents = {c.viewport: c.user_agent for c in result.captures}
    assert "Android" in agents["mobile"] and "Mobile" in agents["mobile"] and "Android" not in agents["desktop"]
    for c in result.captures:
        assert (run_dir / c.fold).read_bytes()[:4] == b"\x89PNG" and (run_dir / c.full).stat().st_size > 1000
    report = (run_dir / "report.md").read_text()
    assert "## Critical" in report and "## High" in report and "(screens/mobile-fold.png)" in report
    assert run_dir.parent == env / "out" / "vqa"


def test_a_clean_page_gives_no_probe_false_alarms(demo: Demo, env: Path) -> None:
    result = run_visual_qa(f"{demo.url}/about", "all")
    assert result.probe.findings == [] and result.probe.console_errors == [] and result.probe.failed_requests == []
    assert result.status == "clean" and len(result.personas) == 31


def test_a_page_that_does_not_load_is_a_result(env: Path) -> None:
    result = run_visual_qa(f"http://127.0.0.1:{free_port()}/", "mobile-user", load_settings(visual_qa_ai_key="k"))
    assert result.status == "error" and "ERR_CONNECTION_REFUSED" in result.probe.load_error
    assert result.captures == [] and result.personas[0].status == "skipped"
    assert (Path(result.run_dir) / "vqa.json").is_file()


def test_personas_ask_with_their_own_images_and_instructions(
    demo: Demo, env: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake = fake_anthropic
    fake.rules = {
        "You are Mobile user": "rate_limit_once",
        "You are Content editor": "refusal",
        "You are Colour-blind user": "bad_input",
        "You are Tablet user": "not_json",
        "You are Senior user": "server_error_once",
        "You are Brand guardian": "text_only",
    }
    agents = "mobile-user,content-editor,colour-blind-user,tablet-user,senior-user,brand-guardian,slow-connection-user,accessibility-auditor"
    result = run_visual_qa(
        f"{demo.url}/qa-lab", agents, with_fake(fake, visual_qa_ai_model="claude-sonnet-4-5-20250929")
    )
    out = {p.persona: p for p in result.personas}
    personas = {p.id: p for p in load_personas()}

    # each request: the persona's instructions, its viewport's screenshots, the forced tool
    for rec in fake.requests:
        who = next(p for p in personas.values() if rec.asks_as(p.name))
        own = rec.texts()[-1]  # the persona's part comes last, after the shared screenshots
        vp = VIEWPORTS[who.viewport]
        assert who.instructions in own and all(item in own for item in who.looks_for)
        assert "report_findings" in rec.system
        assert rec.body["tool_choice"] == {"type": "tool", "name": "report_findings"}
        assert rec.body["model"] == "claude-sonnet-4-5-20250929"
        assert rec.headers["x-api-key"] == API_KEY and rec.headers["anthropic-version"]
        assert len(rec.images) == len(who.screenshots)
        assert rec.images[0] == (vp.width, vp.height)  # above the fold first, at the viewport size
        if len(rec.images) == 2:
            assert rec.images[1][1] >= vp.height  # then the full page
    # the answers: tool use -> findings; the rest recorded per persona, the run goes on
    assert out["accessibility-auditor"].status == "ok"
    assert out["accessibility-auditor"].findings[0].description == "Accessibility auditor saw 2 screenshots"
    assert out["slow-connection-user"].findings[0].description == "Slow-connection user saw 1 screenshots"
    assert out["content-editor"].status == "error" and "refused" in out["content-editor"].error
    assert out["colour-blind-user"].status == "error" and "severity" in out["colour-blind-user"].error
    assert out["tablet-user"].status == "error" and "malformed API response" in out["tablet-user"].error
    assert out["brand-guardian"].status == "error" and "no report_findings call" in out["brand-guardian"].error
    # 429 with retry-after: 1 -> the SDK waited about a second, then succeeded
    mobile = [r for r in fake.requests if r.asks_as("Mobile user")]
    assert [r.status for r in mobile] == [429, 200] and mobile[1].at - mobile[0].at >= 0.9
    assert out["mobile-user"].status == "ok" and out["mobile-user"].retries == 1
    senior = [r.status for r in fake.requests if r.asks_as("Senior user")]
    assert senior == [529, 200] and out["senior-user"].status == "ok"
    # token use and cost per persona and per run (Sonnet 4.5: $3 in, $15 out per MTok)
    ok = out["accessibility-auditor"].usage  # not the desktop group's first: its screenshots come from the cache
    assert ok.cache_read_input_tokens > 1000 and ok.input_tokens < 500 and ok.output_tokens == 120
    assert ok.cost_usd == pytest.approx((ok.input_tokens + 0.1 * ok.cache_read_input_tokens) * 3e-6 + 120 * 15e-6)
    first = out["content-editor"].usage  # the desktop group's first writes the cache (1.25 x input)
    assert first.cache_creation_input_tokens == ok.cache_read_input_tokens and first.cache_read_input_tokens == 0
    assert result.usage.input_tokens == sum(p.usage.input_tokens for p in result.personas)
    assert result.usage.cost_usd == pytest.approx(sum(p.usage.cost_usd or 0 for p in result.personas))
    assert out["content-editor"].usage.input_tokens > 0  # a refusal is still paid for
    report = (Path(result.run_dir) / "report.md").read_text()
    assert "Content editor (error)" in report and API_KEY not in report
    assert API_KEY not in (Path(result.run_dir) / "vqa.json").read_text()


def test_a_persona_that_stays_rate_limited_fails_alone(env: Path, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.rules = {"You are Mobile user": "always_429"}
    personas = select(load_personas(), "mobile-user,tablet-user")
    settings = with_fake(fake_anthropic, visual_qa_max_retries=1)
    outcomes = asyncio.run(ask_personas(personas, "http://127.0.0.1/", tiny_captures(env), env, settings))
    out = {p.persona: p for p in outcomes}
    assert out["mobile-user"].status == "error" and out["mobile-user"].error.startswith("HTTP 429: rate_limit_error")
    asked = [r.at for r in fake_anthropic.requests if r.asks_as("Mobile user")]
    assert len(asked) == 2 and asked[1] - asked[0] >= 0.9  # retried once, after retry-after
    assert out["tablet-user"].status == "ok"  # a rate limit is not a reason to stop asking the others


def tiny_captures(folder: Path) -> list[Capture]:
    """Screenshots without a browser, for tests of the model path alone (a 1x1 PNG)."""
    (folder / "screens").mkdir(parents=True, exist_ok=True)
    out = []
    for vp in VIEWPORTS.values():
        for shot in ("fold", "full"):
            (folder / "screens" / f"{vp.name}-{shot}.png").write_bytes(PNG_1X1)
        out.append(
            Capture(
                viewport=vp.name,
                width=vp.width,
                height=vp.height,
                full=f"screens/{vp.name}-full.png",
                fold=f"screens/{vp.name}-fold.png",
                page_height=vp.height,
            )
        )
    return out


def test_a_wrong_key_stops_asking_after_the_first_answer(env: Path, fake_anthropic: FakeAnthropic) -> None:
    settings = load_settings(
        visual_qa_ai_key="sk-wrong", visual_qa_ai_base_url=fake_anthropic.url, visual_qa_concurrency=1
    )
    personas = select(load_personas(), "mobile-user,content-editor,tablet-user")
    outcomes = asyncio.run(ask_personas(personas, "http://127.0.0.1/", tiny_captures(env), env, settings))
    assert [o.status for o in outcomes] == ["error", "skipped", "skipped"]
    assert outcomes[0].error == "HTTP 401: authentication_error: invalid x-api-key"
    assert outcomes[2].error == "not asked: HTTP 401: authentication_error: invalid x-api-key"
    assert len(fake_anthropic.requests) == 1  # not 3 paid-for failures


def test_an_unreachable_api_is_recorded_not_raised(env: Path) -> None:
    settings = load_settings(
        visual_qa_ai_key="k",
        visual_qa_ai_base_url=f"http://127.0.0.1:{free_port()}",
        visual_qa_max_retries=0,
        visual_qa_concurrency=1,
    )
    personas = select(load_personas(), "mobile-user,senior-user")
    outcomes = asyncio.run(ask_personas(personas, "http://127.0.0.1/", tiny_captures(env), env, settings))
    assert outcomes[0].status == "error" and outcomes[0].error.startswith("cannot reach the model API")
    assert outcomes[1].status == "skipped" and outcomes[1].error.startswith("not asked: cannot reach")


def test_all_31_personas_share_three_captures_and_stay_within_the_concurrency(
    demo: Demo, env: Path, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.latency_s = 0.3
    started = time.monotonic()
    result = run_visual_qa(f"{demo.url}/qa-lab", None, with_fake(fake_anthropic, visual_qa_concurrency=8))
    wall = time.monotonic() - started
    assert len(fake_anthropic.requests) == 31 and all(p.status == "ok" for p in result.personas)
    assert fake_anthropic.max_in_flight <= 8 and fake_anthropic.max_in_flight >= 4
    shots = sorted(p.name for p in (Path(result.run_dir) / "screens").iterdir())
    assert shots == sorted(f"{v}-{s}.png" for v in ("desktop", "tablet", "mobile") for s in ("fold", "full"))
    assert len(result.findings) == len(result.probe.findings) + 31
    # prompt cache: each group's first persona goes alone, the others read its screenshots from the cache
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for persona in load_personas():
        groups.setdefault(cache_group(persona), []).append(persona.name)
    arrivals = {r.texts()[-1].split(".")[0].removeprefix("You are "): r.at for r in fake_anthropic.requests}
    for leader, *followers in groups.values():
        assert all(arrivals[f] - arrivals[leader] >= 0.29 for f in followers)  # after the leader's answer
    readers = [p for p in result.personas if p.usage.cache_read_input_tokens > 0]
    assert len(readers) == 31 - len(groups)
    uncached = sum(
        (p.usage.input_tokens + p.usage.cache_creation_input_tokens + p.usage.cache_read_input_tokens) * 3e-6
        + p.usage.output_tokens * 15e-6
        for p in result.personas
    )
    assert result.usage.cost_usd is not None and result.usage.cost_usd < 0.6 * uncached
    span = max(arrivals.values()) - min(arrivals.values())
    assert span < 31 * 0.3 / 2  # a warm-up round and 4 rounds of 8, not 31 calls in a row (~1.5 s when idle)
    assert wall < 120
