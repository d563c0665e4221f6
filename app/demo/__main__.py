"""`python -m app.demo --port 8787 [--error-rate 0.2] [--slow-ms 50] [--token-ttl 300]`."""

from __future__ import annotations

import argparse

from app.demo.app import serve


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m app.demo", description="Serve Luna's demo API on 127.0.0.1.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--error-rate", type=float, default=0.2)
    p.add_argument("--slow-ms", type=int, default=50)
    p.add_argument("--token-ttl", type=int, default=300)
    a = p.parse_args()
    serve(host=a.host, port=a.port, error_rate=a.error_rate, slow_ms=a.slow_ms, token_ttl_s=a.token_ttl)


if __name__ == "__main__":
    main()
