"""The one masker (luna/masking.py): every derived form of every secret, and the
front ends that print or write through it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from luna.masking import Masker
from luna.settings import LunaSettings
from luna.text import printable

pytestmark = pytest.mark.unit

PASS = "p@ss word/+&<canary>"
USER = "canary-user"


def every_form(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


def test_every_form_of_a_secret_is_masked() -> None:
    mask = Masker([PASS])
    for form in every_form(PASS):
        assert form not in mask(f"before {form} after"), form


def test_basic_auth_is_masked_as_user_pass_and_as_its_header() -> None:
    settings = LunaSettings(auth_basic_user=USER, auth_basic_pass=PASS)  # type: ignore[arg-type]
    mask = Masker.from_settings(settings)
    pair = f"{USER}:{PASS}"
    header = "Basic " + base64.b64encode(pair.encode()).decode()
    echoed = json.dumps({"headers": {"authorization": header}, "again": quote(pair, safe="")})
    out = mask(echoed)
    for form in [*every_form(PASS), base64.b64encode(pair.encode()).decode(), quote(pair, safe="")]:
        assert form not in out
    assert USER not in mask(header)


def test_runtime_tokens_are_masked_once_added_and_by_shape_before() -> None:
    mask = Masker([])
    token = "eyJhbGciOi.kc-runtime-token_123"
    assert token not in mask(f'{{"authorization": "Bearer {token}"}}')
    assert token not in mask(json.dumps({"access_token": token, "expires_in": 300}))
    assert token not in mask(f"GET /cb?access_token={token}&x=1")
    assert token not in mask(json.dumps(json.dumps({"access_token": token})))  # JSON inside JSON (k6 logs)
    mask.add(token)
    assert token not in mask(f"body: {token}") and base64.b64encode(token.encode()).decode() not in mask(
        base64.b64encode(token.encode()).decode()
    )


def test_short_secrets_do_not_shred_ordinary_text() -> None:
    assert Masker(["ab"])("a calm day") == "a calm day"


def test_masking_data_and_files(tmp_path: Path) -> None:
    mask = Masker([PASS])
    assert mask.data({"k": [PASS, {"x": PASS}]}) == {"k": ["***", {"x": "***"}]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"setup_data": {"token": PASS}}), encoding="utf-8")
    mask.file(path)
    assert PASS not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Users\x1b[2J\x1b]0;pwned\x07 list", "Users list"),
        ("two\r\nlines\rover", "two lines over"),
        ("bell\x07 nul\x00 del\x7f c1\x9b31m", "bell nul del c1"),
        ("tab\there", "tab here"),
    ],
)
def test_printable_strips_escapes_and_controls(raw: str, shown: str) -> None:
    assert " ".join(printable(raw).split()) == shown
