"""Luna's application layer and its front ends (the top of the import rule).

`operations.py` holds the public operations (run a load test, test a service, discover,
generate, run a suite, audit, history, diff, list runs, get a report). The front ends are
thin adapters over it: `cli/` (the `luna` command), `client.py` (`LunaClient`), `mcp/`
(the MCP server), `repl.py` (`luna repl`, `luna health`). `gateway/` (the webhook
gateway), `doctor.py` and `demo/` (the bundled demo API) are the other entry points.
Nothing below (flows/, tasks/, luna/) imports this package; see docs/ARCHITECTURE.md.
"""
