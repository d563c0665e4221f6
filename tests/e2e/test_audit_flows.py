"""The `visual_qa` and `lighthouse_audit` flows under Prefect's test harness, and the
`luna lighthouse` / `vqa*` commands in-process (states, results, artifacts, exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from tests.conftest import Demo, artifacts, free_port
from tests.fake_anthropic import API_KEY, FakeAnthropic

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("VISUAL_QA_AI_KEY", "VISUAL_QA_AI_BASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return clean_env


def test_visual_qa_flow_asks_personas_and_publishes(
    harness: None, demo: Demo, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.visual_qa import VisualQAParams, visual_qa
    from tasks.visual_qa.model import VisualQAResult

    with FakeAnthropic() as fake:
        monkeypatch.setenv("VISUAL_QA_AI_KEY", API_KEY)
        monkeypatch.setenv("VISUAL_QA_AI_BASE_URL", fake.url)
        state = visual_qa(
            VisualQAParams(url=f"{demo.url}/qa-lab", agents=["mobile-user", "first-time-visitor"]), return_state=True
        )
    # /qa-lab has planted problems: findings of high severity or worse fail the run (LUNA_VQA_FAIL_ON)
    assert state.is_failed() and (state.message or "").startswith("FAIL: 3 findings at high severity or worse")
    result = state.result(raise_on_failure=False)
    assert isinstance(result, VisualQAResult) and [p.status for p in result.personas] == ["ok", "ok"]
    assert {f.severity for f in result.blocking} == {"critical", "high"}
    assert len(fake.requests) == 2 and result.usage.input_tokens > 0
    assert "Mobile user saw 2 screenshots" in str(artifacts("luna-vqa-report")[0].data)
    assert "first-time-visitor" in str(artifacts("luna-vqa-personas")[0].data)
    assert VisualQAResult.read(Path(result.run_dir)).run_id == result.run_id


def test_lighthouse_flow_mobile_preset_passes_within_budget(harness: None, demo: Demo, env: Path) -> None:
    from flows.lighthouse_audit import lighthouse_audit
    from tasks.audit.budgets import Budgets
    from tasks.audit.model import LighthouseResult
    from tasks.audit.params import LighthouseParams

    loose = Budgets(performance=10, lcp_ms=20_000, tbt_ms=5_000)
    params = LighthouseParams(urls=[f"{demo.url}/about"], preset="mobile", budgets=loose)
    state = lighthouse_audit(params, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, LighthouseResult) and result.passed
    page = result.pages[0]
    assert page.preset == "mobile" and page.scores["accessibility"] == 100
    assert json.loads(Path(page.report_json or "").read_text())["configSettings"]["formFactor"] == "mobile"
    assert "PASS" in str(artifacts("luna-lighthouse-report")[0].data) and (Path(result.run_dir) / "report.md").is_file()
    assert "pass" in str(artifacts("luna-lighthouse-pages")[0].data)


def test_cli_lighthouse_exit_code_and_vqa_commands(
    harness: None, demo: Demo, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    assert main(["lighthouse", dead]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out and "connection refused" in out

    assert main(["vqa", "--url", f"{demo.url}/qa-lab", "--agents", "mobile-user", "--run-id", "cli-run"]) == 1
    out = capsys.readouterr().out
    assert "AI personas skipped: VISUAL_QA_AI_KEY is not set" in out and "horizontal-overflow" in out
    assert main(["vqa", "--url", dead, "--agents", "mobile-user"]) == 1
    assert "page did not load" in capsys.readouterr().out

    assert main(["vqa-list"]) == 0
    listed = capsys.readouterr().out
    assert "cli-run" in listed and "/qa-lab" in listed
    assert main(["vqa-show", "cli-run"]) == 0
    assert "form field 'email' has no label" in capsys.readouterr().out
    assert main(["vqa-show", "nope"]) == 2
    assert "visual-QA run nope not found" in capsys.readouterr().err
    assert main(["vqa-agents"]) == 0
    assert "31 visual-QA personas" in capsys.readouterr().out
