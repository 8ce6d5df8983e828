"""PKCE (RFC 7636), S256 only as OAuth 2.1 §4.1.1 recommends and MCP requires."""

from __future__ import annotations

import base64
import hashlib
import re

from ostiary.core.errors import InvalidGrant, InvalidRequest
from ostiary.crypto.compare import constant_time_equals

# RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# An S256 challenge is the base64url of 32 bytes: exactly 43 characters, no padding.
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def s256_challenge(verifier: str) -> str:
    """BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), RFC 7636 §4.2."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code_challenge(challenge: str | None, method: str | None) -> str:
    """Validate the authorization request's challenge (RFC 7636 §4.3, §4.4.1)."""
    if not challenge:
        raise InvalidRequest("code_challenge is required (PKCE)")
    if method != "S256":
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("code_challenge is not a valid S256 challenge")
    return challenge


def verify_code_verifier(verifier: str | None, challenge: str) -> None:
    """Check the token request's verifier against the stored challenge (RFC 7636 §4.6)."""
    if not verifier or not _VERIFIER.fullmatch(verifier):
        raise InvalidGrant("code_verifier is missing or malformed")
    if not constant_time_equals(s256_challenge(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code challenge")
