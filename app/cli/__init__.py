"""The `luna` command line: `main.py` (parser, dispatch, exit codes) and one module per
command group, each an adapter over app/operations.py."""
