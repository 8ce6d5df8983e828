"""Fixtures for the in-process HTTP tier: a fresh server (memory storage, frozen clock) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .helpers import ISSUER, RESOURCE, TENANT_ISSUER, TENANT_RESOURCE, Server, running


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """Issuer ``http://127.0.0.1:8000``: plain-http cookies, endpoints at the root."""
    async with running(ISSUER, RESOURCE) as srv:
        yield srv


@pytest.fixture
async def tenant() -> AsyncIterator[Server]:
    """Issuer ``https://as.example.com/tenant1``: secure cookies, endpoints under ``/tenant1``."""
    async with running(TENANT_ISSUER, TENANT_RESOURCE) as srv:
        yield srv


@pytest.fixture(params=["root", "tenant"])
async def any_server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Both deployments, for behaviour that must not depend on the issuer's shape."""
    issuer, resource = (
        (ISSUER, RESOURCE) if request.param == "root" else (TENANT_ISSUER, TENANT_RESOURCE)
    )
    async with running(issuer, resource) as srv:
        yield srv
