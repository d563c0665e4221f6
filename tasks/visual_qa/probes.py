"""Deterministic probes: checks that run in the page itself, no API key needed.

- axe-core (npm `axe-core`, injected into the page) for WCAG violations;
- console errors, uncaught exceptions and failed requests seen during the load;
- broken images, images without an alt attribute and form fields without a label;
- horizontal overflow at the mobile and tablet widths, with the elements that cause it.
"""

from __future__ import annotations

from typing import Any

from tasks.visual_qa.model import PROBE, Finding, Severity

# Runs in the page; returns plain JSON. `path` gives a short CSS path for locating things.
DOM_PROBE = r"""
() => {
  const path = (el) => {
    const parts = [];
    while (el && el.nodeType === 1 && parts.length < 4) {
      let part = el.localName;
      if (el.id) { parts.unshift(part + '#' + el.id); break; }
      const cls = [...el.classList].slice(0, 2).join('.');
      if (cls) part += '.' + cls;
      const parent = el.parentElement;
      if (parent) {
        const same = [...parent.children].filter((c) => c.localName === el.localName);
        if (same.length > 1) part += `:nth-of-type(${same.indexOf(el) + 1})`;
      }
      parts.unshift(part);
      el = parent;
    }
    return parts.join(' > ');
  };
  const out = { broken: [], noAlt: [], unlabeled: [], overflow: [], scrollWidth: 0, clientWidth: 0 };
  for (const img of document.images) {
    const src = img.currentSrc || img.getAttribute('src') || '';
    if (img.complete && img.naturalWidth === 0) out.broken.push({ selector: path(img), src });
    if (!img.hasAttribute('alt')) out.noAlt.push({ selector: path(img), src });
  }
  const skip = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (skip.has((el.getAttribute('type') || '').toLowerCase())) continue;
    const named = (el.labels && el.labels.length) || (el.getAttribute('aria-label') || '').trim()
      || el.getAttribute('aria-labelledby') || (el.getAttribute('title') || '').trim();
    if (!named) out.unlabeled.push({ selector: path(el), name: el.getAttribute('name') || '' });
  }
  const root = document.documentElement;
  out.scrollWidth = root.scrollWidth;
  out.clientWidth = root.clientWidth;
  if (root.scrollWidth > root.clientWidth + 1) {
    const wide = [...document.body.querySelectorAll('*')].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > root.clientWidth + 1;
    });
    // keep the outermost offenders: an element whose parent also overflows is covered by it
    const outer = wide.filter((el) => !wide.includes(el.parentElement));
    for (const el of outer.slice(0, 10)) {
      const r = el.getBoundingClientRect();
      out.overflow.push({ selector: path(el), right: Math.round(r.right), width: Math.round(r.width) });
    }
  }
  return out;
}
"""

AXE_RUN = """
async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, tags: v.tags,
    nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    count: v.nodes.length,
  }));
}
"""

AXE_SEVERITY: dict[str, Severity] = {"critical": "critical", "serious": "high", "moderate": "medium", "minor": "low"}


def _finding(
    severity: Severity, category: str, description: str, location: str, suggestion: str, viewport: str
) -> Finding:
    return Finding(
        source=PROBE,
        severity=severity,
        category=category,
        description=description,
        location=location,
        suggestion=suggestion,
        viewport=viewport,
    )


def dom_findings(dom: dict[str, Any], viewport: str, *, layout_only: bool = False) -> list[Finding]:
    """Findings from DOM_PROBE's answer. `layout_only` keeps just the overflow check
    (the other checks do not depend on the width and are reported once)."""
    out: list[Finding] = []
    if not layout_only:
        for img in dom.get("broken", []):
            out.append(
                _finding(
                    "high",
                    "broken-image",
                    f"image failed to load: {img['src']}",
                    img["selector"],
                    "fix the image URL or remove the element",
                    viewport,
                )
            )
        for img in dom.get("noAlt", []):
            out.append(
                _finding(
                    "medium",
                    "missing-alt",
                    f"image has no alt attribute: {img['src']}",
                    img["selector"],
                    'add alt text that says what the image shows (alt="" if it is decorative)',
                    viewport,
                )
            )
        for field in dom.get("unlabeled", []):
            name = f" '{field['name']}'" if field.get("name") else ""
            out.append(
                _finding(
                    "medium",
                    "form-label",
                    f"form field{name} has no label",
                    field["selector"],
                    "add a <label for=...>, or aria-label / aria-labelledby",
                    viewport,
                )
            )
    if dom.get("scrollWidth", 0) > dom.get("clientWidth", 0) + 1:
        culprits = ", ".join(f"{o['selector']} (right edge {o['right']} px)" for o in dom.get("overflow", [])[:5])
        out.append(
            _finding(
                "high",
                "horizontal-overflow",
                f"page scrolls sideways at {dom['clientWidth']} px: content is {dom['scrollWidth']} px wide",
                culprits or "document",
                "constrain the element (max-width: 100%, flex-wrap, overflow-x: auto on tables/code)",
                viewport,
            )
        )
    return out


def axe_findings(violations: list[dict[str, Any]], viewport: str) -> list[Finding]:
    out = []
    for v in violations:
        targets = "; ".join(n["target"] for n in v.get("nodes", []))
        more = v.get("count", 0) - len(v.get("nodes", []))
        out.append(
            _finding(
                AXE_SEVERITY.get(v.get("impact") or "", "medium"),
                f"axe:{v['id']}",
                f"{v['help']} ({v.get('count', 0)} element{'s' if v.get('count', 0) != 1 else ''})",
                targets + (f" and {more} more" if more > 0 else ""),
                f"see {v.get('helpUrl', 'the axe-core rule documentation')}",
                viewport,
            )
        )
    return out


def load_findings(console_errors: list[str], failed_requests: list[str], viewport: str) -> list[Finding]:
    out = [
        _finding("medium", "console-error", text[:500], "browser console", "fix the script error", viewport)
        for text in console_errors
    ]
    out += [
        _finding("medium", "failed-request", text[:500], "network", "fix or remove the request", viewport)
        for text in failed_requests
    ]
    return out
