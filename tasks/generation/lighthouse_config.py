"""The Lighthouse part of a generated suite as data: the desktop and mobile presets
(Lighthouse 12 configs) and the page index with each page's budgets. render.py writes them."""

from __future__ import annotations

from typing import Any

from tasks.generation.model import SuiteSpec

DESKTOP_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]


def lighthouse_presets() -> dict[str, dict[str, Any]]:
    """Lighthouse 12 configs (`lighthouse URL --config-path=desktop.json`)."""
    desktop = {
        "extends": "lighthouse:default",
        "settings": {
            "formFactor": "desktop",
            "screenEmulation": {
                "mobile": False,
                "width": 1350,
                "height": 940,
                "deviceScaleFactor": 1,
                "disabled": False,
            },
            "emulatedUserAgent": DESKTOP_UA,
            "throttlingMethod": "simulate",
            "throttling": {
                "rttMs": 40,
                "throughputKbps": 10240,
                "cpuSlowdownMultiplier": 1,
                "requestLatencyMs": 0,
                "downloadThroughputKbps": 0,
                "uploadThroughputKbps": 0,
            },
            "onlyCategories": CATEGORIES,
        },
    }
    mobile = {
        "extends": "lighthouse:default",
        "settings": {
            "formFactor": "mobile",
            "screenEmulation": {
                "mobile": True,
                "width": 412,
                "height": 823,
                "deviceScaleFactor": 1.75,
                "disabled": False,
            },
            "throttlingMethod": "simulate",
            "onlyCategories": CATEGORIES,
        },
    }
    return {"desktop": desktop, "mobile": mobile}


def lighthouse_index(spec: SuiteSpec) -> dict[str, Any]:
    """lighthouse.json: the page URLs and each page's budgets in the audit stage's model
    (tasks/audit/budgets.py, the same as `luna lighthouse`): its defaults (accessibility, best
    practices, SEO, CLS, TBT, INP), with server response time <= p95, LCP <= 4 x Apdex T and
    performance score >= 100 x Apdex score from the page's SLOs."""
    from tasks.audit.budgets import Budgets

    pages = [
        {
            "name": p.name,
            "path": p.path,
            "url": spec.base_url + p.path,
            "budgets": Budgets(
                server_response_ms=p.slos.p95_ms,
                lcp_ms=4 * p.slos.apdex_t_ms,
                performance=round(100 * p.slos.apdex_score, 1),
            ).model_dump(exclude_none=True),
        }
        for p in spec.pages
    ]
    return {
        "service": spec.service,
        "base_url": spec.base_url,
        "presets": {"desktop": "desktop.json", "mobile": "mobile.json"},
        "pages": pages,
    }
