"""Write rendered files into ``suites/<service>/`` and keep what the user owns.

- Every path is resolved and must stay inside the suite folder.
- A file's custom section (between the ``luna:custom`` marker lines) is carried over.
- ``test_*_custom.py`` files are created once and never rewritten.
- A generated file edited outside its custom section is saved as ``<file>.bak`` first.
- Files the previous generation wrote and this one does not are removed (kept, with a
  warning, when their custom section holds code).
- Python files are formatted with ruff when it is installed; unchanged files keep their
  modification time, so regenerating from the same input is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from tasks.generation.model import KINDS, Manifest, SuiteKind, SuiteSpec
from tasks.generation.render import CUSTOM_BEGIN, CUSTOM_END, Rendered, custom_block, render_suite
from tasks.generation.safe import GenerationError, inside


class GeneratedSuite(BaseModel):
    """What generation hands on: the suite folder, its manifest and what changed."""

    suite_dir: Path = Field(description="The suite folder.")
    manifest: Manifest | None = Field(None, description="The manifest written (set once the suite is written).")
    written: list[str] = Field(default_factory=list, description="Files written or rewritten, relative to suite_dir.")
    unchanged: list[str] = Field(default_factory=list, description="Files already up to date.")
    removed: list[str] = Field(default_factory=list, description="Files the previous generation wrote, now removed.")
    warnings: list[str] = Field(default_factory=list, description="Things worth telling the user.")


def _section(text: str, comment: str, where: str) -> tuple[int, int] | None:
    """(start, end) offsets of the custom body (between the marker lines), or None."""
    begin, end = f"{comment} {CUSTOM_BEGIN}\n", f"{comment} {CUSTOM_END}"
    if text.count(begin) == 0 and text.count(end) == 0:
        return None
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise GenerationError(
            "the custom section markers are broken (each marker line must appear once, begin before end)",
            location=where,
            tip=f"restore the lines '{comment} {CUSTOM_BEGIN}' and '{comment} {CUSTOM_END}', or delete the file",
        )
    start = text.index(begin) + len(begin)
    return start, text.index(end, start)


def custom_body(text: str, comment: str, where: str) -> str | None:
    span = _section(text, comment, where)
    return None if span is None else text[span[0] : span[1]]


def with_custom(text: str, comment: str, body: str, where: str) -> str:
    span = _section(text, comment, where)
    if span is None:
        return text
    return text[: span[0]] + body + text[span[1] :]


def generated_hash(text: str, comment: str | None, where: str) -> str:
    """sha256 of the file with its custom body left out: changes only when the generated part does."""
    if comment is not None:
        text = with_custom(text, comment, "", where)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _default_body(comment: str) -> str:
    block = custom_block(comment)
    return block[block.index("\n") + 1 : block.rindex(f"{comment} {CUSTOM_END}")]


def part_of(path: str) -> str:
    """The suite part a generated file belongs to: api, ui, k6, lighthouse or common."""
    head = path.split("/", 1)[0]
    return head if "/" in path and head in KINDS else "common"


def ruff_binary() -> str | None:
    beside = Path(sys.executable).with_name("ruff")
    return str(beside) if beside.exists() else shutil.which("ruff")


def format_python(files: list[Rendered]) -> None:
    """ruff format the generated .py files (one ruff call, in a scratch folder), when ruff
    is installed; the user's own code is never formatted (custom sections merge later)."""
    ruff = ruff_binary()
    python = [f for f in files if f.path.endswith(".py")]
    if ruff is None or not python:
        return
    with tempfile.TemporaryDirectory(prefix="luna-format-") as scratch:
        for n, f in enumerate(python):
            (Path(scratch) / f"f{n}.py").write_text(f.text, encoding="utf-8")
        done = subprocess.run(
            # --no-cache and cwd: ruff would otherwise leave a .ruff_cache in the user's folder
            [ruff, "format", "--isolated", "--no-cache", "--line-length", "120", "--target-version", "py311", scratch],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise GenerationError(
                f"generated Python does not format: {done.stderr.strip()[:300]}",
                tip="this is a Luna bug: please report it with the spec that caused it",
            )
        for n, f in enumerate(python):
            f.text = (Path(scratch) / f"f{n}.py").read_text(encoding="utf-8")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".luna-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _previous_manifest(suite_dir: Path, spec: SuiteSpec, warnings: list[str]) -> Manifest | None:
    """The manifest of the last generation in `suite_dir`, if readable; refuses a folder
    that holds another service's suite."""
    previous: Manifest | None = None
    if (suite_dir / "luna-suite.json").exists():
        try:
            previous = Manifest.read(suite_dir)
        except GenerationError as exc:
            warnings.append(f"previous manifest ignored: {exc.message}")
    if previous is not None and previous.service != spec.service:
        raise GenerationError(
            f"{suite_dir} holds the suite of service {previous.service!r}, not {spec.service!r}",
            location=str(suite_dir),
            tip="the two names make the same folder name: rename one service (--service NAME)",
        )
    return previous


def _write_file(
    f: Rendered, suite_dir: Path, previous: Manifest | None, result: GeneratedSuite, hashes: dict[str, str]
) -> None:
    """Write one rendered file, keeping its custom section; a file edited outside it is saved as .bak."""
    target = inside(suite_dir, f.path)
    old = target.read_text(encoding="utf-8") if target.is_file() else None
    if f.once:
        if old is None:
            _write(target, f.text)
            result.written.append(f.path)
        else:
            result.unchanged.append(f.path)
        return
    text = f.text
    if old is not None and f.custom is not None:
        body = custom_body(old, f.custom, str(target))
        if body is None:
            result.warnings.append(f"{f.path} had no custom section markers; the new file has them")
        else:
            text = with_custom(text, f.custom, body, str(target))
    hashes[f.path] = generated_hash(text, f.custom, f.path)
    edited = (
        old is not None
        and previous is not None
        and f.path in previous.files
        and generated_hash(old, f.custom, str(target)) != previous.files[f.path]
    )
    if edited and old != text:
        shutil.copyfile(target, target.with_name(target.name + ".bak"))
        result.warnings.append(f"{f.path} was edited outside its custom section: saved as {f.path}.bak")
    if old == text:
        result.unchanged.append(f.path)
    else:
        _write(target, text)
        result.written.append(f.path)


def _keep_or_remove_stale(
    previous: Manifest, hashes: dict[str, str], kept_kinds: list[SuiteKind], suite_dir: Path, result: GeneratedSuite
) -> None:
    """Files of the last generation not rendered now: kept when their part was not asked for
    or their custom section has code, removed otherwise."""
    for path in previous.files:
        if path not in hashes and part_of(path) in kept_kinds:
            hashes[path] = previous.files[path]
    for stale in sorted(set(previous.files) - set(hashes)):
        target = inside(suite_dir, stale)
        if not target.is_file():
            continue
        comment = "//" if stale.endswith(".js") else "#"
        body = custom_body(target.read_text(encoding="utf-8"), comment, str(target))
        if body is not None and body.strip() and body != _default_body(comment):
            result.warnings.append(f"{stale} is no longer generated but its custom section has code: kept")
            hashes[stale] = previous.files[stale]
            continue
        target.unlink()
        result.removed.append(stale)


def write_suite(
    spec: SuiteSpec, out_root: Path, kinds: list[SuiteKind], *, now: datetime | None = None
) -> GeneratedSuite:
    out_root.mkdir(parents=True, exist_ok=True)
    suite_dir = inside(out_root, spec.slug)
    suite_dir.mkdir(exist_ok=True)
    warnings = list(spec.warnings)
    previous = _previous_manifest(suite_dir, spec, warnings)
    if not spec.pages and {"ui", "lighthouse"} & set(kinds):
        warnings.append("no pages (text/html responses) found: no UI or Lighthouse part; add pages with --page PATH")
    kinds = [k for k in kinds if k not in ("ui", "lighthouse") or spec.pages]
    # Parts not asked for this time stay as they are (`--kind api` refreshes only the API tests).
    kept_kinds = [k for k in (previous.kinds if previous else []) if k not in kinds]
    all_kinds = [k for k in KINDS if k in kinds or k in kept_kinds]
    rendered = render_suite(spec, kinds, all_kinds)
    format_python(rendered)
    result = GeneratedSuite(suite_dir=suite_dir, warnings=warnings)
    hashes: dict[str, str] = {}
    for f in rendered:
        _write_file(f, suite_dir, previous, result, hashes)
    if previous is not None:
        _keep_or_remove_stale(previous, hashes, kept_kinds, suite_dir, result)
    tests = {k: v for k, v in (previous.tests if previous else {}).items() if k in kept_kinds}
    if "api" in kinds:
        tests["api"] = len(spec.endpoints)
    if "ui" in kinds:
        tests["ui"] = len(spec.pages)
    manifest = Manifest(
        service=spec.service,
        slug=spec.slug,
        base_url=spec.base_url,
        sources=spec.sources,
        generated_at=now or datetime.now(UTC),
        kinds=all_kinds,
        tests={k: v for k, v in tests.items() if v},
        files=hashes,
    )
    manifest.write(suite_dir)
    result.manifest = manifest
    return result
