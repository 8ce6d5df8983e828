"""Tokens for the verifier tests: signed with a real key, with every claim overridable."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

ISSUER = "https://as.example"
RESOURCE = "https://mcp.example/mcp"
OTHER_RESOURCE = "https://other.example/mcp"
NOW = 1_700_000_000


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "alice",
        "client_id": "desktop",
        "scope": "tools:read tools:execute",
        "gid": "grant-1",
        "jti": "j1",
        "iat": NOW,
        "exp": NOW + 300,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


class Signer:
    """An ES256 key pair with a kid; ``jwks`` is its public half."""

    def __init__(self, kid: str = "k1", alg: str = "ES256") -> None:
        self.kid, self.alg = kid, alg
        params: Any = {"kid": kid, "alg": alg, "use": "sig"}
        self.key: ECKey | RSAKey = (
            RSAKey.generate_key(2048, parameters=params)
            if alg == "RS256"
            else ECKey.generate_key("P-256", parameters=params)
        )

    @property
    def public(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public]}

    @property
    def key_set(self) -> KeySet:
        return KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]

    def sign(self, body: dict[str, Any] | None = None, **header: Any) -> str:
        head = {"alg": self.alg, "typ": "at+jwt", "kid": self.kid, **header}
        head = {k: v for k, v in head.items() if v is not None}
        return jwt.encode(head, body or claims(), self.key, algorithms=[self.alg])


def hmac_token(secret: bytes, kid: str = "k1") -> str:
    key = OctKey.import_key(secret)
    return jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims(), key, ["HS256"])


def none_token(kid: str = "k1") -> str:
    import base64
    import json

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{b64(claims())}."
