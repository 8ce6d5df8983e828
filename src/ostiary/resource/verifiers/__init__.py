"""Three interchangeable ``TokenVerifier``\\ s: local, JWKS and introspection."""

from ostiary.resource.verifiers.discovery import DiscoveryError
from ostiary.resource.verifiers.introspection import IntrospectionVerifier
from ostiary.resource.verifiers.jwks import JwksVerifier
from ostiary.resource.verifiers.local import LocalVerifier

__all__ = ["DiscoveryError", "IntrospectionVerifier", "JwksVerifier", "LocalVerifier"]
