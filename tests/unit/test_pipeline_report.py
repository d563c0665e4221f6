"""The pipeline report links every stage's report, shows the load chart, the Lighthouse
scores and the visual-QA findings with their screenshots (markdown and HTML)."""

from __future__ import annotations

import base64
import shutil
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from luna.settings import load_settings
from tasks.audit.model import BudgetCheck, LighthouseResult, PageAudit
from tasks.evaluation.slo import evaluate
from tasks.pipeline.model import PipelineResult, StageOutcome
from tasks.pipeline.report import html_report, markdown_report
from tasks.visual_qa.model import Capture, Finding, PageProbe, VisualQAResult
from tests.unit.test_report_summary import catalog_for, many_failures
from tests.unit.test_reporting import FIXTURE

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def png(width: int, height: int) -> bytes:
    """A real (grey) PNG of that size."""
    raw = b"".join(b"\x00" + b"\xcc" * width * 3 for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pipeline_folders(out: Path) -> PipelineResult:
    """A pipeline whose load, Lighthouse and visual-QA stages left their real files."""
    load_dir = out / "runs" / "r-many"
    load_dir.mkdir(parents=True)
    result = many_failures(load_dir)
    shutil.copy(FIXTURE, load_dir / "k6-report.html")
    result.files = {"k6_report": "k6-report.html"}
    result.write()
    evaluate(result, catalog_for(result)).write(load_dir)
    (load_dir / "report.html").write_text("<h1>FAIL</h1>", encoding="utf-8")

    lh_dir = out / "lighthouse" / "lh1"
    lh_dir.mkdir(parents=True)
    (lh_dir / "page-desktop.html").write_text("<html>lighthouse</html>", encoding="utf-8")
    page = PageAudit(
        url="http://127.0.0.1:8787/",
        preset="desktop",
        status="ok",
        scores={"performance": 98, "accessibility": 81, "best_practices": 100, "seo": 90},
        budgets=[
            BudgetCheck(name="accessibility", op=">=", limit=90, value=81, passed=False, state="fail"),
            BudgetCheck(name="inp_ms", op="<=", limit=200, passed=False, state="not_measured", note="not measured"),
        ],
        report_html=str(lh_dir / "page-desktop.html"),
    )
    LighthouseResult(run_id="lh1", run_dir=str(lh_dir), started_at=NOW, finished_at=NOW, pages=[page]).write()

    vqa_dir = out / "vqa" / "v1"
    vqa_dir.mkdir(parents=True)
    (vqa_dir / "desktop-fold.png").write_bytes(png(64, 40))
    (vqa_dir / "report.md").write_text("# Visual QA", encoding="utf-8")
    findings = [
        Finding(source="probes", severity=s, category="broken-image", description=f"finding {i}", location="img")  # type: ignore[arg-type]
        for i, s in enumerate(["low"] * 12 + ["high", "critical"])
    ]
    capture = Capture(
        viewport="desktop", width=1280, height=800, full="desktop-fold.png", fold="desktop-fold.png", page_height=800
    )
    VisualQAResult(
        run_id="v1",
        run_dir=str(vqa_dir),
        url="http://127.0.0.1:8787/",
        model="m",
        started_at=NOW,
        finished_at=NOW,
        captures=[capture],
        probe=PageProbe(findings=findings),
    ).write()
    return PipelineResult(
        pipeline_id="p1",
        target="http://127.0.0.1:8787",
        profile="smoke",
        service="Big",
        started_at=NOW,
        out_dir=str(out / "pipelines" / "p1"),
        stages=[
            StageOutcome(
                name="load",
                status="failed",
                reason="getFlaky: error rate 19.77% (target <= 1.00%); " * 20,
                links={"run_dir": str(load_dir)},
            ),
            StageOutcome(name="lighthouse", status="failed", reason="a11y", links={"run_dir": str(lh_dir)}),
            StageOutcome(name="visual_qa", status="failed", reason="FAIL", links={"run_dir": str(vqa_dir)}),
        ],
    )


def test_the_html_report_links_charts_scores_findings_and_screenshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNA_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("LUNA_REPORTS_URL", "http://127.0.0.1:4280/")
    html = html_report(pipeline_folders(tmp_path), load_settings())
    for link in (
        "runs/r-many/report.html",
        "runs/r-many/k6-report.html",
        "lighthouse/lh1/page-desktop.html",
        "vqa/v1/report.md",
    ):
        assert f'href="http://127.0.0.1:4280/{link}"' in html, link
    assert html.count('<figure class="chart">') == 2 and "<path" in html  # throughput and latency from k6's export
    audits = html.split('<table class="audits">')[1].split("</table>")[0]
    assert ">98<" in audits and ">81<" in audits and "fail: accessibility (inp_ms not measured)" in audits
    findings = html.split('<table class="findings">')[1].split("</table>")[0]
    assert findings.index("critical") < findings.index("high") < findings.index("low")  # worst first
    assert findings.count("<tr>") == 1 + 12 and "and 2 more in the visual-QA report" in html
    shot = html.split('<div class="shots">')[1].split("</div>")[0]
    data = shot.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(data) == (tmp_path / "vqa" / "v1" / "desktop-fold.png").read_bytes()


def test_the_markdown_artifact_links_every_report_and_shows_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNA_OUT_DIR", str(tmp_path))
    monkeypatch.setenv("LUNA_REPORTS_URL", "http://127.0.0.1:4280/")
    text = markdown_report(pipeline_folders(tmp_path), load_settings())
    assert "- load: [HTML report](http://127.0.0.1:4280/runs/r-many/report.html)" in text.replace("\\", "")
    assert "## Lighthouse scores" in text and "| 98 | 81 | 100 | 90 |" in text
    assert "**critical** broken\\-image" in text
    assert "![desktop screenshot](http://127.0.0.1:4280/vqa/v1/desktop-fold.png)" in text
