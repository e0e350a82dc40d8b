"""User tokens: claims, expiry and leeway, audience and issuer, pinned algorithms (`none` and
HS256-with-the-public-key refused), length bound; and the 401 the middleware answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.testclient import TestClient

from session_manager.auth import ALL_SCOPES, MAX_TOKEN_BYTES, TokenVerifier
from session_manager.errors import UnauthorizedError
from session_manager.settings import ManagerSettings

KEY = "operator-key-0123456789"
SECRET = "an-hs256-secret-of-at-least-32-chars!"


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "exp": int(time.time()) + 300, **extra}


def _pem(private: Any) -> bytes:
    return bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@pytest.fixture
def verifier(tmp_path: Path) -> TokenVerifier:
    return TokenVerifier(
        ManagerSettings(state_dir=tmp_path, api_key=KEY, jwt_secret=SECRET, jwt_leeway=5)
    )


def _refused(verifier: TokenVerifier, token: str | bytes, code: str = "KATO_TOKEN_INVALID") -> str:
    raw = token.encode() if isinstance(token, str) else token
    with pytest.raises(UnauthorizedError) as refused:
        verifier.verify(raw)
    assert refused.value.code == code and refused.value.status == 401
    return refused.value.message


def test_a_good_token_names_its_user_scopes_and_session(verifier: TokenVerifier) -> None:
    sid = "ab" * 16
    user = verifier.verify(
        jwt.encode(_claims(scope="sessions:read", sid=sid), SECRET, "HS256").encode()
    )
    assert (user.kind, user.subject, user.scopes, user.session_id) == (
        "user",
        "alice",
        frozenset({"sessions:read"}),
        sid,
    )
    assert verifier.verify(jwt.encode(_claims(), SECRET, "HS256").encode()).scopes == ALL_SCOPES


def test_expiry_with_the_leeway(verifier: TokenVerifier) -> None:
    now = int(time.time())
    assert verifier.verify(jwt.encode(_claims(exp=now - 2), SECRET, "HS256").encode())
    _refused(verifier, jwt.encode(_claims(exp=now - 60), SECRET, "HS256"), "KATO_TOKEN_EXPIRED")
    assert "exp" in _refused(verifier, jwt.encode({"sub": "alice"}, SECRET, "HS256"))
    _refused(verifier, jwt.encode(_claims(nbf=now + 60), SECRET, "HS256"))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "has space"},
        {"sub": 7},
        {"sub": "x" * 201},
        {"scope": "sessions:read admin"},
        {"scope": ["sessions:read"]},
        {"sid": "not-a-session"},
    ],
)
def test_claims_outside_their_rules_are_refused(
    verifier: TokenVerifier, claims: dict[str, Any]
) -> None:
    _refused(verifier, jwt.encode(_claims(**claims), SECRET, "HS256"))


def test_bad_signatures_none_and_junk_are_refused(verifier: TokenVerifier) -> None:
    _refused(verifier, jwt.encode(_claims(), "another-secret-of-at-least-32-chars!!", "HS256"))
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    assert "algorithm" in _refused(verifier, header + b"." + body + b".")
    _refused(verifier, "not.a.token")
    _refused(verifier, b"x" * (MAX_TOKEN_BYTES + 1))
    rs_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "algorithm" in _refused(verifier, jwt.encode(_claims(), rs_key, "RS256"))


def test_audience_and_issuer_when_set(tmp_path: Path) -> None:
    verifier = TokenVerifier(
        ManagerSettings(
            state_dir=tmp_path,
            api_key=KEY,
            jwt_secret=SECRET,
            jwt_audience="kato",
            jwt_issuer="https://app.example",
        )
    )
    good = _claims(aud="kato", iss="https://app.example")
    assert verifier.verify(jwt.encode(good, SECRET, "HS256").encode())
    _refused(verifier, jwt.encode({**good, "aud": "other"}, SECRET, "HS256"))
    _refused(verifier, jwt.encode({**good, "iss": "https://evil.example"}, SECRET, "HS256"))
    _refused(verifier, jwt.encode(_claims(iss="https://app.example"), SECRET, "HS256"))


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_a_public_key_pins_its_algorithm_and_hs256_with_it_fails(tmp_path: Path, kind: str) -> None:
    private: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = tmp_path / "key.pem"
    pem.write_bytes(_pem(private))
    verifier = TokenVerifier(ManagerSettings(state_dir=tmp_path, api_key=KEY, jwt_public_key=pem))
    assert verifier.verify(jwt.encode(_claims(), private, kind).encode()).subject == "alice"
    # Algorithm confusion: an HS256 token whose secret is the public key's PEM.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(
        hmac.new(pem.read_bytes(), header + b"." + body, hashlib.sha256).digest()
    ).rstrip(b"=")
    assert "algorithm" in _refused(verifier, header + b"." + body + b"." + signature)
    _refused(verifier, jwt.encode(_claims(), SECRET, "HS256"))


def test_the_middleware_answers_401_with_the_code(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key=KEY, jwt_secret=SECRET)
    expired = jwt.encode(_claims(exp=int(time.time()) - 3600), SECRET, "HS256")
    answer = client.get("/sessions", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "KATO_TOKEN_EXPIRED"
    forged = jwt.encode(_claims(), "another-secret-of-at-least-32-chars!!", "HS256")
    answer = client.get("/sessions", headers={"Authorization": f"Bearer {forged}"})
    assert answer.json()["error"]["code"] == "KATO_TOKEN_INVALID"
    assert client.get("/health").status_code == 200  # probes stay open
    # An open path is served to a caller whose token is bad (as to one without a key).
    assert (
        client.get("/dashboard/api/auth", headers={"Authorization": f"Bearer {forged}"}).json()[
            "authenticated"
        ]
        is False
    )


def test_a_public_key_must_be_a_file_of_an_accepted_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KATO_JWT_PUBLIC_KEY"):
        ManagerSettings(state_dir=tmp_path, api_key=KEY, jwt_public_key=tmp_path / "absent.pem")
    pem = tmp_path / "p384.pem"
    pem.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
    settings = ManagerSettings(state_dir=tmp_path, api_key=KEY, jwt_public_key=pem)
    with pytest.raises(ValueError, match="P-256"):
        TokenVerifier(settings)
