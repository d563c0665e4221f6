"""Sender verification and replay protection. Plain functions, no I/O.

Three schemes, one per source:

- generic: ``X-Luna-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` - the
  same header Luna's outgoing webhooks send (tasks/notify/webhooks.py ``sign``), so one
  Luna can trigger another. The timestamp must be within the tolerance window and each
  signature is accepted once.
- github: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``; replays are
  caught by the ``X-GitHub-Delivery`` id.
- gitlab: ``X-Gitlab-Token`` equals the configured token (constant-time); replays are
  caught by ``X-Gitlab-Event-UUID`` (or ``Idempotency-Key``) when GitLab sends one.

Every comparison is constant-time; no function returns or logs a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from luna.errors import Rejected
from tasks.notify.webhooks import sign


def verify_generic(body: bytes, header: str | None, secret: str, *, tolerance_s: int, now: float) -> str:
    """Check an ``X-Luna-Signature`` header; return its v1 value (the replay nonce)."""
    if not header:
        raise Rejected(401, "missing X-Luna-Signature header")
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        raise Rejected(401, "X-Luna-Signature has no t=<unix seconds>") from None
    given = fields.get("v1", "")
    expected = sign(body, secret, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise Rejected(401, "X-Luna-Signature does not match the body")
    if abs(now - timestamp) > tolerance_s:
        raise Rejected(401, f"X-Luna-Signature timestamp is more than {tolerance_s} s from the gateway's clock")
    return given


def github_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_github(body: bytes, header: str | None, secret: str) -> None:
    if not header:
        raise Rejected(401, "missing X-Hub-Signature-256 header")
    if not hmac.compare_digest(github_signature(body, secret), header.strip()):
        raise Rejected(401, "X-Hub-Signature-256 does not match the body")


def verify_gitlab(header: str | None, token: str) -> None:
    if not header:
        raise Rejected(401, "missing X-Gitlab-Token header")
    if not hmac.compare_digest(token.encode("utf-8"), header.encode("utf-8")):
        raise Rejected(401, "X-Gitlab-Token is wrong")


class ReplayCache:
    """Delivery ids seen in the last ``ttl_s`` seconds, at most ``max_entries`` (oldest go first).

    ``claim(key)`` records a key and returns False when it was already there; ``release``
    forgets a key whose event could not be delivered, so the sender's retry is accepted.
    In memory: one gateway process is the unit (run one replica, or pin a sender to one).
    """

    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - self.ttl_s):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)
