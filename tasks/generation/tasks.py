"""The generation stage as Prefect tasks: generate a suite, run it, publish the results
(a table artifact with one row per test and a markdown summary, both with stable keys)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from luna.keys import artifact_key
from luna.settings import LunaSettings
from tasks.generation.model import SuiteKind
from tasks.generation.report import generated_markdown, summary_markdown, table_rows
from tasks.generation.results import SuiteRun
from tasks.generation.runner import find_suite, run_suite_dir
from tasks.generation.suites import GenerateParams, generate_suite
from tasks.generation.write import GeneratedSuite


@task(name="generate-suite")
def generate_suites(params: GenerateParams, settings: LunaSettings) -> GeneratedSuite:
    """Write the suites; returns the folder, the manifest and what changed."""
    logger = get_run_logger()
    made = generate_suite(params, settings)
    for warning in made.warnings:
        logger.warning(warning)
    assert made.manifest is not None
    logger.info(
        "%s: %d files written, %d unchanged, %d removed",
        made.suite_dir,
        len(made.written),
        len(made.unchanged),
        len(made.removed),
    )
    create_markdown_artifact(
        key=artifact_key("luna-suite", made.manifest.service, "generated"),
        markdown=generated_markdown(made.suite_dir, made.manifest.model_dump(mode="json"), made.warnings),
        description=f"Suite {made.manifest.slug} generated",
    )
    return made


@task(name="run-suite")
def run_tests(
    name: str,
    kinds: list[SuiteKind] | None,
    base_url: str | None,
    out_dir: str | None,
    k6_duration: str,
    suites_dir: str,
    settings: LunaSettings,
    k6_vus: int = 1,
    lighthouse_presets: list[str] | None = None,
) -> SuiteRun:
    """Run the suite's kinds; failing tests are rows of the result, not an exception.
    Results go to `out_dir` (default: <LUNA_OUT_DIR>/suites/<suite>-<UTC time>/)."""
    logger = get_run_logger()
    suite_dir = find_suite(name, Path(suites_dir))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = Path(out_dir) if out_dir else settings.luna_out_dir / "suites" / f"{suite_dir.name}-{stamp}"
    logger.info("running suite %s against %s; results in %s", suite_dir, base_url or "its default target", folder)
    return run_suite_dir(
        suite_dir,
        kinds,
        settings=settings,
        out_dir=folder,
        base_url=base_url,
        on_line=lambda line: logger.info("%s", line),
        k6_duration=k6_duration,
        k6_vus=k6_vus,
        lighthouse_presets=tuple(lighthouse_presets or ("desktop", "mobile")),
    )


@task(name="publish-suite-results")
def publish_results(run: SuiteRun) -> None:
    key = artifact_key("luna-tests", run.service, "-".join(run.kinds))
    create_table_artifact(key=key, table=table_rows(run), description=run.headline())
    create_markdown_artifact(key=key + "-summary", markdown=summary_markdown(run), description=run.headline())
