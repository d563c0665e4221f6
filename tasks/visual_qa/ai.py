"""Each persona asks Claude through the official `anthropic` SDK (Messages API).

One request per persona: the persona's role and checklist as the system prompt, its
viewport's screenshots as base64 image blocks, and a `report_findings` tool the model must
call (`tool_choice`), so findings come back as structured tool input. At most
VISUAL_QA_CONCURRENCY calls are in flight. 429, 408/409 and 5xx answers and connection
errors are retried by the SDK (VISUAL_QA_MAX_RETRIES) with exponential backoff that
honours `retry-after` / `retry-after-ms` up to 60 s. A refused, truncated or malformed
answer, or a call that still fails after the retries, is recorded for that persona only.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field, ValidationError

from luna.settings import LunaSettings
from tasks.visual_qa.model import SEVERITIES, Capture, Finding, PersonaOutcome, Severity, Usage
from tasks.visual_qa.personas import VIEWPORTS, Persona
from tasks.visual_qa.pricing import cost_usd

TOOL_NAME = "report_findings"
MAX_TOKENS = 4096
Log = Callable[[str], None]

FINDINGS_TOOL: dict[str, Any] = {
    "name": TOOL_NAME,
    "description": (
        "Report every problem you found on the page, most severe first. Call it exactly once; "
        "with an empty list when you found nothing."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "severity": {"type": "string", "enum": list(SEVERITIES)},
                        "category": {"type": "string", "description": "Short kind, e.g. contrast, layout, copy."},
                        "description": {"type": "string", "description": "What is wrong, concretely."},
                        "location": {"type": "string", "description": "Where on the page (region, element, text)."},
                        "suggestion": {"type": "string", "description": "How to fix it."},
                    },
                    "required": ["severity", "category", "description", "location", "suggestion"],
                },
            }
        },
        "required": ["findings"],
    },
}


class ToolFinding(BaseModel):
    severity: Severity
    category: str = Field(min_length=1)
    description: str = Field(min_length=1)
    location: str = ""
    suggestion: str = ""


class ToolInput(BaseModel):
    findings: list[ToolFinding]


SYSTEM_PROMPT = (
    "You are a visual QA tester reviewing screenshots of a web page. The last part of the message says "
    "which tester persona you are, what to focus on and what to look for. Judge only what the screenshots "
    f"show. Report your findings by calling the {TOOL_NAME} tool once; give each a severity (critical, high, "
    "medium, low, info), a short category, a concrete description, its location on the page and a suggestion."
)


def persona_prompt(persona: Persona) -> str:
    checklist = "\n".join(f"- {item}" for item in persona.looks_for)
    return (
        f"You are {persona.name}. Your focus: {persona.focus}.\n\n"
        f"{persona.instructions}\n\nLook in particular for:\n{checklist}\n\n"
        f"Review the page as {persona.name} and report with {TOOL_NAME}."
    )


class ImageCache:
    """Base64 of each screenshot, read once and shared by every persona that sends it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.data: dict[str, str] = {}

    def get(self, relative: str) -> str:
        if relative not in self.data:
            self.data[relative] = base64.b64encode((self.run_dir / relative).read_bytes()).decode("ascii")
        return self.data[relative]


def build_request(persona: Persona, url: str, capture: Capture, images: ImageCache, model: str) -> dict[str, Any]:
    """Keyword arguments of `messages.create` for one persona.

    Everything before the persona's own text (tools, system prompt, page, screenshots) is
    the same for every persona that looks through the same viewport at the same shots, and
    the last image carries `cache_control`: the screenshots are paid in full once per group
    and then read from the prompt cache at a tenth of the price."""
    vp = VIEWPORTS[capture.viewport]
    content: list[dict[str, Any]] = [
        {
            "type": "text",
            "text": f"Page under test: {url}\nViewport: {capture.viewport} ({vp.width}x{vp.height} CSS px)"
            + (" on a touch device" if vp.mobile else ""),
        }
    ]
    for shot in ("fold", "full"):
        if shot not in persona.screenshots:
            continue
        label = (
            "Above the fold (what a visitor sees first):"
            if shot == "fold"
            else f"Full page ({capture.page_height} px tall"
            + (", cropped to the first 6000 px" if capture.cropped else "")
            + "):"
        )
        content.append({"type": "text", "text": label})
        path = capture.fold if shot == "fold" else capture.full
        content.append(
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": images.get(path)}}
        )
    content[-1]["cache_control"] = {"type": "ephemeral"}
    content.append({"type": "text", "text": persona_prompt(persona)})
    return {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM_PROMPT,
        "messages": [{"role": "user", "content": content}],
        "tools": [FINDINGS_TOOL],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
    }


def cache_group(persona: Persona) -> tuple[str, tuple[str, ...]]:
    """Personas with the same key send the same request prefix (see build_request)."""
    return persona.viewport, tuple(persona.screenshots)


def usage_of(message: Any, model: str) -> Usage:
    raw = getattr(message, "usage", None)
    usage = Usage(
        input_tokens=getattr(raw, "input_tokens", 0) or 0,
        output_tokens=getattr(raw, "output_tokens", 0) or 0,
        cache_creation_input_tokens=getattr(raw, "cache_creation_input_tokens", 0) or 0,
        cache_read_input_tokens=getattr(raw, "cache_read_input_tokens", 0) or 0,
    )
    usage.cost_usd = cost_usd(model, usage)
    return usage


def parse_answer(persona: Persona, message: Any) -> list[Finding]:
    """The findings in a Messages API answer; ValueError with the reason when the answer
    is a refusal, has no report_findings call, or the call's input is malformed."""
    blocks = list(getattr(message, "content", None) or [])
    stop = getattr(message, "stop_reason", None)
    calls = [b for b in blocks if getattr(b, "type", None) == "tool_use" and getattr(b, "name", None) == TOOL_NAME]
    if stop == "refusal":
        raise ValueError("the model refused to answer (stop_reason refusal)")
    if not calls:
        text = " ".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", None) == "text").strip()
        raise ValueError(
            f"the answer has no {TOOL_NAME} call (stop_reason {stop})" + (f": {text[:200]!r}" if text else "")
        )
    findings: list[Finding] = []
    for call in calls:
        try:
            data = ToolInput.model_validate(call.input)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            truncated = " (answer cut at max_tokens)" if stop == "max_tokens" else ""
            raise ValueError(
                f"malformed {TOOL_NAME} input at {where or 'top level'}: {err['msg']}{truncated}"
            ) from None
        findings += [Finding(source=persona.id, viewport=persona.viewport, **f.model_dump()) for f in data.findings]
    return findings


def client_for(settings: LunaSettings) -> Any:
    from anthropic import AsyncAnthropic

    if settings.visual_qa_ai_key is None or not settings.visual_qa_ai_key.get_secret_value():
        raise ValueError("VISUAL_QA_AI_KEY is not set")
    return AsyncAnthropic(
        api_key=settings.visual_qa_ai_key.get_secret_value(),
        base_url=settings.visual_qa_ai_base_url or None,
        max_retries=settings.visual_qa_max_retries,
        # a blocked network should fail in seconds, not after the full read timeout
        timeout=httpx.Timeout(settings.visual_qa_timeout_s, connect=min(10.0, settings.visual_qa_timeout_s)),
    )


class Breaker:
    """Stops asking once an error says every call would fail the same way (wrong key, no
    access, unknown model, API unreachable): the personas not yet asked are skipped with
    that reason instead of paying 31 times for it."""

    def __init__(self) -> None:
        self.reason: str | None = None


async def ask_persona(
    client: Any, persona: Persona, request: dict[str, Any], gate: asyncio.Semaphore, breaker: Breaker | None = None
) -> PersonaOutcome:
    import anthropic

    breaker = breaker or Breaker()
    outcome = PersonaOutcome(persona=persona.id, name=persona.name, viewport=persona.viewport, status="ok")
    model = request["model"]
    async with gate:
        if breaker.reason:
            outcome.status, outcome.error = "skipped", f"not asked: {breaker.reason}"
            return outcome
        started = time.monotonic()
        try:
            raw = await client.messages.with_raw_response.create(**request)
            outcome.retries = raw.retries_taken
            message = raw.parse()
        except ValueError as exc:  # a 200 whose body is not JSON or not a Message
            outcome.status, outcome.error = "error", f"malformed API response: {str(exc).splitlines()[0][:200]}"
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError, anthropic.NotFoundError) as exc:
            outcome.status, outcome.error = "error", f"HTTP {exc.status_code}: {_api_message(exc)}"
            breaker.reason = outcome.error
        except anthropic.APIStatusError as exc:
            outcome.status, outcome.error = "error", f"HTTP {exc.status_code}: {_api_message(exc)}"
        except anthropic.APITimeoutError:
            outcome.status, outcome.error = "error", "the model call timed out (VISUAL_QA_TIMEOUT_S)"
        except anthropic.APIConnectionError as exc:
            outcome.status, outcome.error = "error", f"cannot reach the model API: {exc.__cause__ or exc}"
            breaker.reason = outcome.error
        except anthropic.APIResponseValidationError as exc:
            outcome.status, outcome.error = "error", f"malformed API response: {exc}"
        else:
            outcome.usage = usage_of(message, model)
            try:
                outcome.findings = parse_answer(persona, message)
            except ValueError as exc:
                outcome.status, outcome.error = "error", str(exc)
        outcome.duration_s = round(time.monotonic() - started, 3)
    return outcome


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('type', 'error')}: {error['message']}"[:300]
    return str(getattr(exc, "message", exc))[:300]


async def ask_personas(
    personas: list[Persona],
    url: str,
    captures: list[Capture],
    run_dir: Path,
    settings: LunaSettings,
    log: Log = lambda _: None,
) -> list[PersonaOutcome]:
    """Every persona's answer, in persona order. A persona whose viewport was not captured,
    or that was not asked after a call failed in a way every call would, is skipped with
    the reason."""
    by_viewport = {c.viewport: c for c in captures}
    images = ImageCache(run_dir)
    gate = asyncio.Semaphore(settings.visual_qa_concurrency)
    breaker = Breaker()
    client = client_for(settings)
    model = settings.visual_qa_ai_model

    # The first persona of each group goes alone, so that the others find its prefix in the
    # prompt cache (a cache entry exists once a response has been produced).
    leaders: dict[tuple[str, tuple[str, ...]], Persona] = {}
    for p in personas:
        leaders.setdefault(cache_group(p), p)
    warmed = {key: asyncio.Event() for key in leaders}

    async def one(persona: Persona) -> PersonaOutcome:
        key = cache_group(persona)
        if leaders[key] is not persona:
            await warmed[key].wait()
        try:
            return await ask(persona)
        finally:
            warmed[key].set()

    async def ask(persona: Persona) -> PersonaOutcome:
        capture = by_viewport.get(persona.viewport)
        if capture is None:
            return PersonaOutcome(
                persona=persona.id,
                name=persona.name,
                viewport=persona.viewport,
                status="skipped",
                error=f"no {persona.viewport} capture (the page did not load)",
            )
        request = build_request(persona, url, capture, images, model)
        outcome = await ask_persona(client, persona, request, gate, breaker)
        log(
            f"{persona.id}: "
            + (f"{len(outcome.findings)} findings" if outcome.status == "ok" else f"{outcome.status}: {outcome.error}")
        )
        return outcome

    try:
        return list(await asyncio.gather(*(one(p) for p in personas)))
    finally:
        await client.close()
