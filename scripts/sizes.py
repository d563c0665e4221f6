"""List modules over 400 lines and functions over 60 lines (docs/ARCHITECTURE.md: "Modules
stay small"). A long function is allowed when a comment beside its `def` (on the line
above it or on the `def` line) starts with `# long:` and says why.

    .venv/bin/python scripts/sizes.py          # exit 1 when something is over without a reason
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("luna", "app", "flows", "tasks", "blocks", "deployments", "hooks")
MAX_MODULE, MAX_FUNCTION = 400, 60


def reasoned(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    around = [lines[first - 2] if first >= 2 else "", lines[node.lineno - 1]]
    return any("# long:" in line for line in around)


def over(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            where = path.relative_to(root)
            if len(lines) > MAX_MODULE:
                found.append(f"{where}: {len(lines)} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    size = (node.end_lineno or node.lineno) - node.lineno + 1
                    if size > MAX_FUNCTION and not reasoned(lines, node):
                        found.append(f"{where}:{node.lineno}: {node.name}() {size} lines")
    return found


if __name__ == "__main__":
    report = over()
    print("\n".join(report) or "nothing over the limits")
    sys.exit(1 if report else 0)
