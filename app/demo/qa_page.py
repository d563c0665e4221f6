"""`GET /qa-lab`: a demo page with planted problems for the visual-QA probes and personas.

Planted: an image without alt text, a broken image (404), an element wider than a phone
screen, a console error, and a form field without a label. Not in the OpenAPI document,
so discovery of the demo API is unchanged.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

QA_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QA lab - Luna demo</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0; padding: 1rem; color: #1b1b1f; }
.banner { width: 900px; padding: 1rem; background: #0b4f8a; color: #fff; }
</style>
</head>
<body>
<main>
<h1>QA lab</h1>
<p>This page has planted problems for Luna's visual QA.</p>
<img src="/static/luna-logo.svg" width="64" height="64">
<img src="/static/no-such-image.png" alt="Quarterly chart" width="120" height="80">
<div class="banner">A fixed 900 px banner that overflows a phone screen.</div>
<form action="/qa-lab" method="get">
<input type="text" name="email" placeholder="Your email">
<button type="submit">Subscribe</button>
</form>
</main>
<script>console.error("qa-lab: planted console error");</script>
</body>
</html>
"""


def register(app: FastAPI) -> None:
    @app.get("/qa-lab", response_class=HTMLResponse, include_in_schema=False)
    async def qa_lab() -> HTMLResponse:
        return HTMLResponse(QA_PAGE)
