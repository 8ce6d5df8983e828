"""Three interchangeable ``TokenVerifier``\\ s: local, JWKS and introspection."""

from ostiary.resource.verifiers.local import LocalVerifier

__all__ = ["LocalVerifier"]
