"""Visual-QA logic: the persona file, requests, answer parsing, pricing, probes, report."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from anthropic.types import Message

from luna.errors import ConfigError
from tasks.visual_qa.ai import FINDINGS_TOOL, TOOL_NAME, ImageCache, build_request, parse_answer, usage_of
from tasks.visual_qa.model import Capture, Finding, PersonaOutcome, Usage, VisualQAResult
from tasks.visual_qa.personas import PERSONAS_FILE, VIEWPORTS, load_personas, select
from tasks.visual_qa.pricing import cost_usd, price_of
from tasks.visual_qa.probes import axe_findings, dom_findings, load_findings
from tasks.visual_qa.report import markdown_report, persona_rows

pytestmark = pytest.mark.unit

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_the_persona_file_has_the_31_personas_of_the_seed() -> None:
    personas = load_personas()
    assert len(personas) == 31 and len({p.id for p in personas}) == 31
    ids = {p.id for p in personas}
    examples = {
        "accessibility-auditor",
        "mobile-user",
        "colour-blind-user",
        "first-time-visitor",
        "content-editor",
        "performance-sensitive-user",
    }
    assert examples <= ids
    assert {p.viewport for p in personas} == set(VIEWPORTS)
    assert all(p.looks_for and p.instructions and p.focus for p in personas)


def test_adding_a_persona_is_adding_an_entry(tmp_path: Path) -> None:
    data = yaml.safe_load(PERSONAS_FILE.read_text())
    data.append(
        {
            "id": "night-owl",
            "name": "Night owl",
            "focus": "dark mode",
            "viewport": "tablet",
            "instructions": "You browse at night.",
            "looks_for": ["glare"],
        }
    )
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    personas = load_personas(path)
    assert len(personas) == 32 and personas[-1].screenshots == ["fold", "full"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"looks_fr": ["x"]}, "persona field looks_fr: Extra inputs are not permitted .* did you mean 'looks_for'"),
        ({"viewport": "watch"}, "persona field viewport"),
        ({"id": "Bad Id"}, "persona field id"),
        ({"screenshots": []}, "persona field screenshots"),
    ],
)
def test_a_bad_persona_entry_is_named(tmp_path: Path, entry: dict[str, Any], expected: str) -> None:
    base = {"id": "x", "name": "X", "focus": "f", "viewport": "mobile", "instructions": "i", "looks_for": ["a"]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump([base, {**base, "id": "y", **entry}]))
    with pytest.raises(ConfigError, match=expected) as err:
        load_personas(path)
    assert "entry 2" in (err.value.location or "")


def test_duplicate_ids_and_broken_yaml_are_refused(tmp_path: Path) -> None:
    base = {"id": "x", "name": "X", "focus": "f", "viewport": "mobile", "instructions": "i", "looks_for": ["a"]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump([base, base]))
    with pytest.raises(ConfigError, match="appears twice"):
        load_personas(path)
    path.write_text("- id: x\n  looks_for: [a, b\n")
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load_personas(path)
    assert (err.value.location or "").startswith(f"{path}:")


def test_select_by_ids() -> None:
    personas = load_personas()
    assert [p.id for p in select(personas, "mobile-user, content-editor,mobile-user")] == [
        "mobile-user",
        "content-editor",
    ]
    assert select(personas, None) == personas and select(personas, "all") == personas
    assert select(personas, ["tablet-user"])[0].viewport == "tablet"
    with pytest.raises(ConfigError, match="did you mean 'colour-blind-user'"):
        select(personas, "color-blind-user")


def capture(tmp_path: Path, viewport: str = "mobile") -> Capture:
    (tmp_path / "screens").mkdir(exist_ok=True)
    for shot in ("fold", "full"):
        (tmp_path / "screens" / f"{viewport}-{shot}.png").write_bytes(PNG + shot.encode())
    return Capture(
        viewport=viewport,
        width=390,
        height=844,
        full=f"screens/{viewport}-full.png",
        fold=f"screens/{viewport}-fold.png",
        page_height=9000,
        cropped=True,
    )


def test_request_carries_the_persona_instructions_images_and_forced_tool(tmp_path: Path) -> None:
    personas = {p.id: p for p in load_personas()}
    images = ImageCache(tmp_path)
    cap = capture(tmp_path)
    req = build_request(personas["mobile-user"], "http://127.0.0.1/qa", cap, images, "claude-sonnet-4-5")
    assert req["model"] == "claude-sonnet-4-5" and req["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert req["tools"] == [FINDINGS_TOOL]
    blocks = req["messages"][0]["content"]
    own = blocks[-1]["text"]  # the persona's part comes last, after what personas share
    assert own.startswith("You are Mobile user.") and "tap targets smaller than 44x44 px" in own
    assert personas["mobile-user"].instructions in own and TOOL_NAME in req["system"]
    assert [i for i, b in enumerate(blocks) if "cache_control" in b] == [len(blocks) - 2]  # the last image
    other = build_request(personas["one-handed-mobile-user"], "http://127.0.0.1/qa", cap, images, "claude-sonnet-4-5")
    assert other["messages"][0]["content"][:-1] == blocks[:-1] and other["system"] == req["system"]  # same prefix
    pictures = [b for b in blocks if b["type"] == "image"]
    assert [base64.b64decode(b["source"]["data"])[-4:] for b in pictures] == [b"fold", b"full"]
    assert all(b["source"]["media_type"] == "image/png" for b in pictures)
    text = " ".join(b["text"] for b in blocks if b["type"] == "text")
    assert "http://127.0.0.1/qa" in text and "390x844" in text and "cropped to the first 6000 px" in text
    fold_only = build_request(personas["slow-connection-user"], "http://x/", cap, images, "m")
    assert len([b for b in fold_only["messages"][0]["content"] if b["type"] == "image"]) == 1
    assert set(images.data) == {cap.fold, cap.full}  # read once, shared


def message(content: list[dict[str, Any]], stop: str = "tool_use", **usage: int) -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": usage.get("inp", 1000), "output_tokens": usage.get("out", 200)},
        }
    )


def tool(inp: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_1", "name": TOOL_NAME, "input": inp}


def test_tool_use_answers_become_findings() -> None:
    persona = select(load_personas(), "visual-designer")[0]
    finding = {
        "severity": "high",
        "category": "alignment",
        "description": "logo is 3 px lower than the menu",
        "location": "header, left",
        "suggestion": "align items center",
    }
    found = parse_answer(persona, message([{"type": "text", "text": "Here:"}, tool({"findings": [finding]})]))
    assert found == [Finding(source="visual-designer", viewport="desktop", **finding)]
    assert parse_answer(persona, message([tool({"findings": []})])) == []


@pytest.mark.parametrize(
    ("content", "stop", "reason"),
    [
        ([], "refusal", "refused"),
        ([{"type": "text", "text": "Looks fine!"}], "end_turn", "no report_findings call .*Looks fine"),
        ([tool({"findings": [{"severity": "urgent", "category": "x", "description": "y"}]})], "tool_use", "severity"),
        ([tool({"items": []})], "tool_use", "malformed report_findings input at findings"),
        ([tool({"findings": [{"severity": "low"}]})], "max_tokens", "cut at max_tokens"),
    ],
)
def test_refused_and_malformed_answers_give_a_reason(content: list[dict[str, Any]], stop: str, reason: str) -> None:
    persona = load_personas()[0]
    with pytest.raises(ValueError, match=reason):
        parse_answer(persona, message(content, stop))


def test_price_table_and_costs() -> None:
    assert price_of("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert price_of("claude-opus-4-1-20250805") == (15.0, 75.0)  # longest prefix, not claude-opus-4
    assert price_of("gpt-4o") is None
    usage = usage_of(message([tool({"findings": []})], inp=10_000, out=1_000), "claude-sonnet-4-5")
    assert usage.input_tokens == 10_000 and usage.cost_usd == pytest.approx(0.03 + 0.015)
    cached = Usage(input_tokens=0, cache_read_input_tokens=1_000_000, cache_creation_input_tokens=1_000_000)
    assert cost_usd("claude-haiku-4-5", cached) == pytest.approx(0.1 + 1.25)
    assert (usage + Usage(cost_usd=None)).cost_usd is None  # an unknown price is never shown as 0
    assert (usage + usage).input_tokens == 20_000


def test_probe_answers_become_findings() -> None:
    dom = {
        "broken": [{"selector": "img:nth-of-type(2)", "src": "/x.png"}],
        "noAlt": [{"selector": "img", "src": "/logo.svg"}],
        "unlabeled": [{"selector": "form > input", "name": "email"}],
        "overflow": [{"selector": "div.banner", "right": 948, "width": 900}],
        "scrollWidth": 948,
        "clientWidth": 390,
    }
    kinds = {f.category: f for f in dom_findings(dom, "desktop")}
    assert set(kinds) == {"broken-image", "missing-alt", "form-label", "horizontal-overflow"}
    assert kinds["form-label"].description == "form field 'email' has no label"
    assert "div.banner (right edge 948 px)" in kinds["horizontal-overflow"].location
    assert [f.category for f in dom_findings(dom, "mobile", layout_only=True)] == ["horizontal-overflow"]
    assert dom_findings({**dom, "scrollWidth": 390, "broken": [], "noAlt": [], "unlabeled": []}, "mobile") == []
    axe = axe_findings(
        [
            {
                "id": "color-contrast",
                "impact": "serious",
                "help": "Elements must meet minimum color contrast ratio thresholds",
                "helpUrl": "https://dequeuniversity.com/rules/axe/4.10/color-contrast",
                "nodes": [{"target": "p.muted"}],
                "count": 3,
            }
        ],
        "desktop",
    )
    assert axe[0].severity == "high" and axe[0].category == "axe:color-contrast"
    assert axe[0].location == "p.muted and 2 more" and "(3 elements)" in axe[0].description
    loaded = load_findings(["console.error: boom"], ["GET /x: HTTP 404"], "desktop")
    assert [f.category for f in loaded] == ["console-error", "failed-request"]


def result(tmp_path: Path) -> VisualQAResult:
    when = datetime(2026, 11, 24, tzinfo=UTC)
    outcomes = [
        PersonaOutcome(
            persona="mobile-user",
            name="Mobile user",
            viewport="mobile",
            status="ok",
            findings=[
                Finding(
                    source="mobile-user",
                    severity="high",
                    category="layout",
                    description="banner | cut",
                    viewport="mobile",
                )
            ],
            usage=Usage(input_tokens=100, output_tokens=10, cost_usd=0.01),
            retries=1,
        ),
        PersonaOutcome(
            persona="content-editor",
            name="Content editor",
            viewport="desktop",
            status="error",
            error="the model refused to answer",
        ),
    ]
    r = VisualQAResult(
        run_id="r1",
        run_dir=str(tmp_path),
        url="http://127.0.0.1/qa",
        model="claude-sonnet-4-5",
        started_at=when,
        finished_at=when,
        captures=[capture(tmp_path)],
        personas=outcomes,
        usage=outcomes[0].usage,
    )
    r.probe.findings.append(Finding(source="probes", severity="critical", category="axe:image-alt", description="d"))
    return r


def test_report_groups_by_severity_then_persona_and_links_screens(tmp_path: Path) -> None:
    r = result(tmp_path)
    assert r.counts() == {"critical": 1, "high": 1, "medium": 0, "low": 0, "info": 0}
    assert r.summary_line() == "2 findings (1 critical, 1 high); 1/2 personas answered"
    text = markdown_report(r)
    assert text.index("## Critical (1)") < text.index("### Deterministic probes") < text.index("## High (1)")
    assert text.index("## High (1)") < text.index("### Mobile user")
    assert "[above the fold](screens/mobile-fold.png)" in text and "banner \\| cut" in text
    assert "Content editor (error): the model refused to answer" in text
    rows = {row["persona"]: row for row in persona_rows(r)}
    assert rows["mobile-user"]["note"] == "(after 1 retries)" and rows["mobile-user"]["cost"] == "$0.0100"
    assert rows["probes"]["findings"] == "1"
    r.write()
    assert VisualQAResult.read(tmp_path) == r
