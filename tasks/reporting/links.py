"""URLs for a run's report files: the links Luna publishes in artifacts open.

With LUNA_REPORTS_BLOCK set, the files are also written to that Prefect storage block (any
WritableFileSystem: `local-file-system/NAME`, or S3/GCS/Azure through prefect-aws,
prefect-gcp, prefect-azure) under `<path in the results folder>`, and the links are
LUNA_REPORTS_URL + that path, so they open from any machine that reaches that URL.
Without a block, luna/served.py picks LUNA_REPORTS_URL, `luna up`'s server, else a file URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from luna.errors import ConfigError
from luna.served import report_url
from luna.settings import LunaSettings


def load_storage(name: str) -> object:
    """The WritableFileSystem block `name` ("<block type slug>/<block name>"); raises ConfigError."""
    from prefect.blocks.core import Block
    from prefect.filesystems import WritableFileSystem

    try:
        block = Block.load(name)
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"LUNA_REPORTS_BLOCK {name!r} could not be loaded ({str(exc).splitlines()[0]})",
            tip="name a saved storage block as <type slug>/<name>, e.g. local-file-system/luna-reports",
        ) from None
    if not isinstance(block, WritableFileSystem):
        raise ConfigError(
            f"LUNA_REPORTS_BLOCK {name!r} is a {type(block).__name__}, not a storage block",
            tip="use a LocalFileSystem, S3Bucket, GcsBucket or AzureBlobStorageContainer block",
        )
    return block


def _relative(run_dir: Path, root: Path) -> str:
    run_dir, root = run_dir.resolve(), root.resolve()
    return run_dir.relative_to(root).as_posix() if run_dir.is_relative_to(root) else f"runs/{run_dir.name}"


def publish_files(run_dir: Path, names: list[str], settings: LunaSettings) -> dict[str, str]:
    """A URL for each of `names` (files in `run_dir` that exist), by name; writes them to
    the storage block first when one is configured. Raises on a failed write."""
    present = [n for n in dict.fromkeys(names) if (run_dir / n).is_file()]
    if not settings.luna_reports_block:
        return {n: report_url(run_dir / n, settings.luna_reports_url, settings.luna_out_dir) for n in present}
    storage = load_storage(settings.luna_reports_block)
    prefix = _relative(run_dir, settings.luna_out_dir)
    base = (settings.luna_reports_url or "").rstrip("/")
    urls = {}
    for name in present:
        storage.write_path(f"{prefix}/{name}", (run_dir / name).read_bytes())  # type: ignore[attr-defined]
        urls[name] = f"{base}/{quote(prefix)}/{quote(name)}"
    return urls


def opens_anywhere(url: str | None) -> bool:
    """False for a file URL: it opens only on the machine that ran the run."""
    return bool(url) and not str(url).startswith("file:")
