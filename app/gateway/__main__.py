"""``python -m app.gateway [--host H] [--port P]``: the webhook gateway (same as ``luna webhook serve``)."""

from __future__ import annotations

import argparse
import sys

from app.gateway.app import run_gateway
from luna.errors import LunaError

if __name__ == "__main__":
    cli = argparse.ArgumentParser(prog="python -m app.gateway", description="Luna's signed-webhook gateway.")
    cli.add_argument("--host", help="interface (default: LUNA_WEBHOOK_HOST or 127.0.0.1)")
    cli.add_argument("--port", type=int, help="port (default: LUNA_WEBHOOK_PORT or 8090)")
    args = cli.parse_args()
    try:
        sys.exit(run_gateway(args.host, args.port))
    except LunaError as exc:
        print(f"luna: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
