"""Outgoing connections: which addresses a request may reach (SSRF)."""
