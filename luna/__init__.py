"""Luna: self-hosted performance testing with k6, orchestrated by Prefect.

`from luna import LunaClient` gives the one-shot Python API (see luna/client.py); the
import is lazy so that `import luna` stays instant.
"""

from typing import Any

__all__ = ["LunaClient"]


def __getattr__(name: str) -> Any:
    if name == "LunaClient":
        from luna.client import LunaClient

        return LunaClient
    raise AttributeError(f"module 'luna' has no attribute {name!r}")
