"""Webhook -> gateway -> Prefect event -> deployment trigger -> flow run, against a real
`prefect server start` with the repository's prefect.yaml deployed (no worker needed: the
run only has to exist, with the parameters mapped from the payload)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks.notify.webhooks import sign
from tests.conftest import ROOT, free_port
from tests.e2e.test_deploy import Deployed, deployed  # noqa: F401  # the session fixture

pytestmark = pytest.mark.e2e
GENERIC, GITHUB = "e2e-generic-secret", "e2e-github-secret"
TRIGGERED = ("test-service", "smoke")  # the deployment whose `triggers:` listen for deploy events


@pytest.fixture(scope="module")
def gateway(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    port = free_port()
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    env = {**deployed.env, "LUNA_WEBHOOK_GENERIC_SECRET": GENERIC, "LUNA_WEBHOOK_GITHUB_SECRET": GITHUB}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "luna"), "webhook", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    else:
        proc.kill()
    if proc.poll() is not None:
        pytest.fail(f"gateway did not start: {log.read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    assert GENERIC not in log.read_text() and GITHUB not in log.read_text()


def targets_of(runs: list[dict[str, Any]]) -> set[str]:
    return {r["parameters"].get("target") for r in runs}


def test_signed_posts_start_runs_and_unsigned_ones_do_not(deployed: Deployed, gateway: str) -> None:  # noqa: F811
    deployment = deployed.deployment(*TRIGGERED)
    unsigned_target, forged_target = "http://127.0.0.1:9/unsigned", "http://127.0.0.1:9/forged"
    generic_target, github_target = "http://127.0.0.1:9/generic", "http://127.0.0.1:9/github"

    # Refused first, so that if they had emitted anything its run would exist before the signed ones'.
    unsigned = httpx.post(f"{gateway}/webhooks/generic", json={"target": unsigned_target}, timeout=10)
    forged_body = json.dumps({"target": forged_target}).encode()
    forged = httpx.post(
        f"{gateway}/webhooks/generic",
        content=forged_body,
        headers={"X-Luna-Signature": sign(forged_body, "guessed-secret", int(time.time()))},
        timeout=10,
    )
    assert (unsigned.status_code, forged.status_code) == (401, 401)

    body = json.dumps({"target": generic_target, "commit": "c0ffee", "service": "shop"}).encode()
    accepted = httpx.post(
        f"{gateway}/webhooks/generic",
        content=body,
        headers={"X-Luna-Signature": sign(body, GENERIC, int(time.time()))},
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    github_body = json.dumps(
        {
            "deployment_status": {"state": "success", "environment": "staging", "environment_url": github_target},
            "deployment": {"sha": "abc123", "ref": "main"},
            "repository": {"full_name": "octo-org/shop"},
        }
    ).encode()
    github = httpx.post(
        f"{gateway}/webhooks/github",
        content=github_body,
        headers={
            "X-Hub-Signature-256": "sha256=" + hmac.new(GITHUB.encode(), github_body, hashlib.sha256).hexdigest(),
            "X-GitHub-Event": "deployment_status",
            "X-GitHub-Delivery": "e2e-delivery-1",
        },
        timeout=30,
    )
    assert github.status_code == 202, github.text

    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = deployed.flow_runs(deployment["id"])
        if {generic_target, github_target} <= targets_of(runs):
            break
        time.sleep(0.5)
    try:
        assert {generic_target, github_target} <= targets_of(runs), f"no triggered run within 60 s: {runs}"
        [generic_run] = [r for r in runs if r["parameters"]["target"] == generic_target]
        assert generic_run["parameters"] == {
            "target": generic_target,
            "profile": "smoke",
            "commit": "c0ffee",
            "environment": None,
        }
        [github_run] = [r for r in runs if r["parameters"]["target"] == github_target]
        assert (github_run["parameters"]["commit"], github_run["parameters"]["environment"]) == ("abc123", "staging")
        time.sleep(2)  # anything emitted for the refused posts would have been processed by now
        runs = deployed.flow_runs(deployment["id"])
        assert not targets_of(runs) & {unsigned_target, forged_target}
    finally:  # never leave scheduled runs for a later worker
        for run in runs:
            httpx.delete(f"{deployed.api}/flow_runs/{run['id']}", timeout=10)
