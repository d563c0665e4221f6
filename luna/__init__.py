"""Luna's core: settings, errors, the endpoints file, run results, verdicts, keys.

Everything else builds on this package and it imports nothing above it, with one
exception kept for users: `from luna import LunaClient` gives the one-shot Python API
(app/client.py). The import is lazy, so `import luna` stays instant, and it is the one
import the layers contract in pyproject.toml lets through.
"""

from typing import Any

__all__ = ["LunaClient"]


def __getattr__(name: str) -> Any:
    if name == "LunaClient":
        from app.client import LunaClient

        return LunaClient
    raise AttributeError(f"module 'luna' has no attribute {name!r}")
