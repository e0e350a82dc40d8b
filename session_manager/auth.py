"""Who is calling: the operator (`KATO_API_KEY`) or a user (a JWT the application signed).

An application's backend signs a token for each of its users and hands it to them; the manager
verifies it with PyJWT and never stores it. Claims:

- `sub` (required): the user id, same rules as a session's `user_id` (`models.USER_ID`);
- `exp` (required): expiry, checked with `KATO_JWT_LEEWAY` seconds of clock skew (as `nbf`
  and `iat` when present);
- `scope` (optional): space-separated, from `sessions:create sessions:read sessions:write
  sessions:delete`; absent means all four, an unknown name is refused;
- `sid` (optional): the token is good for that one session only;
- `aud` / `iss`: required to match when `KATO_JWT_AUDIENCE` / `KATO_JWT_ISSUER` are set.

Algorithms are pinned by the key that is configured, never by the token: HS256 with
`KATO_JWT_SECRET`, RS256 or ES256 with the PEM of `KATO_JWT_PUBLIC_KEY` (by its key type).
`alg: none`, an HS256 token made with the public key as its secret, and any other algorithm
are refused. A credential longer than `MAX_TOKEN_BYTES` is refused before it is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.requests import HTTPConnection

from .errors import UnauthorizedError
from .models import SESSION_ID, USER_ID
from .settings import ManagerSettings

__all__ = [
    "ALL_SCOPES",
    "ANONYMOUS",
    "CREATE",
    "DELETE",
    "READ",
    "WRITE",
    "MAX_TOKEN_BYTES",
    "OPERATOR",
    "PRINCIPAL_KEY",
    "Principal",
    "TokenVerifier",
    "principal_of",
]

CREATE, READ, WRITE, DELETE = (
    "sessions:create",
    "sessions:read",
    "sessions:write",
    "sessions:delete",
)
ALL_SCOPES = frozenset({CREATE, READ, WRITE, DELETE})
#: A signed token with a few claims is ~300-600 bytes; anything near this is not one of ours.
MAX_TOKEN_BYTES = 4096
#: The ASGI scope key where the middleware leaves the caller.
PRINCIPAL_KEY = "kato.principal"

_USER_ID = re.compile(USER_ID)
_SESSION_ID = re.compile(SESSION_ID)


@dataclass(frozen=True)
class Principal:
    """`kind`: "operator", "user" or "anonymous" (an open path without a credential)."""

    kind: str
    subject: str | None = None
    scopes: frozenset[str] = ALL_SCOPES
    session_id: str | None = None  # the token's `sid`

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


OPERATOR = Principal("operator")
ANONYMOUS = Principal("anonymous", scopes=frozenset())


def principal_of(connection: HTTPConnection) -> Principal:
    """The caller the middleware found (the operator when the manager has no API key)."""
    principal: Principal = connection.scope.get(PRINCIPAL_KEY, OPERATOR)
    return principal


class TokenVerifier:
    """Checks user tokens against the keys of the settings; `None` keys: tokens are off."""

    def __init__(self, settings: ManagerSettings) -> None:
        self._keys: dict[str, Any] = {}
        if settings.jwt_secret is not None:
            self._keys["HS256"] = settings.jwt_secret
        if settings.jwt_public_key is not None:
            key = load_pem_public_key(settings.jwt_public_key.read_bytes())
            if isinstance(key, rsa.RSAPublicKey):
                self._keys["RS256"] = key
            elif isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
                self._keys["ES256"] = key
            else:
                raise ValueError("KATO_JWT_PUBLIC_KEY: an RSA or EC P-256 public key is needed")
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer
        self.leeway = settings.jwt_leeway

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def verify(self, token: bytes) -> Principal:
        """The user the token names; `UnauthorizedError` (401) saying why it is refused."""
        if len(token) > MAX_TOKEN_BYTES:
            raise _invalid(f"token longer than {MAX_TOKEN_BYTES} bytes")
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise _invalid("not a token") from None
        key = self._keys.get(alg) if isinstance(alg, str) else None
        if key is None or not isinstance(alg, str):
            raise _invalid(f"algorithm not accepted (accepted: {', '.join(sorted(self._keys))})")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.audience is not None,
                    "verify_sub": False,  # checked below, with the user id's rules
                },
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("token expired", code="KATO_TOKEN_EXPIRED") from None
        except jwt.PyJWTError as exc:
            raise _invalid(str(exc)) from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    sub = claims["sub"]
    if not isinstance(sub, str) or not _USER_ID.match(sub):
        raise _invalid("`sub` must be a user id (1-200 of letters, digits and _ . @ + : -)")
    scope = claims.get("scope")
    if scope is None:
        scopes = ALL_SCOPES
    elif isinstance(scope, str) and set(scope.split()) <= ALL_SCOPES:
        scopes = frozenset(scope.split())
    else:
        raise _invalid(f"`scope` must name some of: {' '.join(sorted(ALL_SCOPES))}")
    sid = claims.get("sid")
    if sid is not None and not (isinstance(sid, str) and _SESSION_ID.match(sid)):
        raise _invalid("`sid` must be a session id")
    return Principal("user", sub, scopes, sid)


def _invalid(why: str) -> UnauthorizedError:
    return UnauthorizedError(f"bad token: {why}", code="KATO_TOKEN_INVALID")
