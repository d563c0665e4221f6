"""Commands for running Luna as a service: ``luna webhook serve``, ``luna mcp``,
``luna repl`` (alias ``luna cli``) and ``luna health``.

Importing this module stays cheap: FastAPI, uvicorn, the MCP SDK and Prefect are imported
inside the handlers.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhook = sub.add_parser("webhook", help="the signed-webhook gateway (GitHub, GitLab, generic -> Prefect events)")
    webhook_sub = webhook.add_subparsers(dest="webhook_command", required=True)
    serve = webhook_sub.add_parser("serve", help="serve POST /webhooks/{generic,github,gitlab} (docs/WEBHOOKS.md)")
    serve.add_argument("--host", help="interface (default: LUNA_WEBHOOK_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: LUNA_WEBHOOK_PORT or 8090)")
    serve.set_defaults(handler=webhook_serve)

    mcp = sub.add_parser("mcp", help="MCP server for agents: stdio (default) or streamable HTTP at /mcp")
    mcp.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp")
    mcp.add_argument("--host", default="127.0.0.1", help="interface for --http (default 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8765, help="port for --http (default 8765)")
    mcp.set_defaults(handler=mcp_serve)

    for name in ("repl", "cli"):
        repl = sub.add_parser(name, help="interactive API shell: `GET /api/users`, `health`, `help`")
        repl.add_argument("--target", help="base URL (default: BASE_URL)")
        repl.add_argument("--no-auth", action="store_true", help="do not send the AUTH_* credentials")
        repl.set_defaults(handler=repl_main)

    health = sub.add_parser("health", help="is the target up? (and the Prefect API) exit 1 when the target is not")
    health.add_argument("target", nargs="?", help="base URL (default: BASE_URL)")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    health.set_defaults(handler=health_main)


def webhook_serve(args: argparse.Namespace) -> int:
    from app.gateway.app import run_gateway

    return run_gateway(args.host, args.port)


def mcp_serve(args: argparse.Namespace) -> int:
    from app.mcp.server import run

    run(http=args.http, host=args.host, port=args.port)
    return 0


def repl_main(args: argparse.Namespace) -> int:
    from app.repl import run_interactive

    return run_interactive(target=args.target, use_auth=not args.no_auth)


def health_main(args: argparse.Namespace) -> int:
    from app.repl.health import health_report

    return health_report(args.target, timeout=args.timeout)
