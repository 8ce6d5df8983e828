"""Clocks and the server configuration."""

from __future__ import annotations

import time

from ostiary.core.clock import FrozenClock, SystemClock
from ostiary.core.config import ServerConfig
from ostiary.core.scopes import SUPPORTED_SCOPES

from ..support import ISSUER, OTHER_RESOURCE, RESOURCE


def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = FrozenClock(start=100)
    assert clock.now() == 100
    assert clock.now() == 100
    clock.advance(25)
    assert clock.now() == 125


def test_system_clock_is_wall_time() -> None:
    before = int(time.time())
    now = SystemClock().now()
    assert before <= now <= int(time.time())


def test_config_defaults() -> None:
    config = ServerConfig(issuer=ISSUER, resources=(RESOURCE, OTHER_RESOURCE))
    assert config.default_resource == RESOURCE
    assert config.scopes_supported == SUPPORTED_SCOPES
    assert (config.access_token_ttl, config.code_ttl, config.refresh_grace) == (3600, 60, 10)
    assert config.refresh_token_ttl == 30 * 24 * 3600
