"""Local setup commands: ``luna env`` (effective settings, secrets masked) and ``luna doctor``
(``luna up`` / ``luna down``: app/cli/server.py)."""

from __future__ import annotations

import argparse

from luna.sections import masked_by_section
from luna.settings import load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub.add_parser("env", help="print the effective settings, secrets masked").set_defaults(handler=show_env)
    sub.add_parser("doctor", help="check k6, Chromium, Node, Lighthouse, Prefect and InfluxDB").set_defaults(
        handler=doctor
    )


def show_env(_: argparse.Namespace) -> int:
    for section, values in masked_by_section(load_settings()).items():
        print(f"# {section}")
        for name, value in values.items():
            print(f"{name}={value}")
    return 0


def doctor(_: argparse.Namespace) -> int:
    from app.doctor import run_checks

    ok = True
    for check in run_checks(load_settings()):
        mark = "ok " if check.ok else ("-- " if not check.required else "!! ")
        print(f"{mark}{check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"     fix: {check.fix}")
        ok = ok and (check.ok or not check.required)
    return 0 if ok else 1
