"""Luna as an MCP server (official ``mcp`` SDK, FastMCP): ``luna mcp`` speaks stdio,
``luna mcp --http`` streamable HTTP at ``http://127.0.0.1:8765/mcp``.

- ``tools``   the tools as plain functions with typed results (testable without MCP)
- ``server``  the FastMCP server: tool schemas, descriptions, annotations, transports

Tools: ``test_service`` (flows/test_service.py through LunaClient), ``load_test``
(flows/load_test.py), ``discover`` (no Prefect, instant), ``get_report`` and
``list_runs`` (the results folder). docs/AGENTS.md is the user's guide.
"""
