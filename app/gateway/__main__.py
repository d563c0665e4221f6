"""``python -m app.gateway [--host H] [--port P]``: the webhook gateway (same as ``luna webhook serve``)."""

from __future__ import annotations

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["webhook", "serve", *sys.argv[1:]]))
