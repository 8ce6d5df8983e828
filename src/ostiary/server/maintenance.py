"""Background upkeep: expired codes and refresh tokens are deleted, so tables stay small.

Dynamically registered clients unused for ``unused_client_ttl`` seconds (last authenticated at
the token endpoint, or never since registration) are removed in the same pass.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from ostiary.core.clock import Clock
from ostiary.storage.protocols import ClientStore, MaintenanceStore

log = logging.getLogger("ostiary.maintenance")

PURGE_INTERVAL = 3600
PURGE_SLACK = 3600  # keep records an hour past expiry, for clock skew and diagnosis


async def purge_once(store: MaintenanceStore, clock: Clock) -> int:
    removed = await store.purge_expired(clock.now() - PURGE_SLACK)
    if removed:
        log.info("purged %d expired codes and refresh tokens", removed)
    return removed


class UpkeepStore(MaintenanceStore, ClientStore, Protocol):
    """What the upkeep task touches."""


async def remove_unused_clients(store: ClientStore, clock: Clock, ttl: int) -> int:
    """Remove dynamic clients unused for ``ttl`` seconds (0: keep them forever)."""
    if ttl <= 0:
        return 0
    now = clock.now()
    removed = await store.delete_unused_clients(now - ttl, now)
    if removed:
        log.info("removed %d dynamically registered clients unused for %d s", removed, ttl)
    return removed


async def purge_forever(
    store: UpkeepStore,
    clock: Clock,
    interval: int = PURGE_INTERVAL,
    *,
    unused_client_ttl: int = 0,
) -> None:
    """Purge now and then every ``interval`` seconds; a failure is logged, never fatal."""
    while True:
        try:
            await purge_once(store, clock)
        except Exception:
            log.exception("purging expired records failed; will retry")
        try:
            await remove_unused_clients(store, clock, unused_client_ttl)
        except Exception:
            log.exception("removing unused clients failed; will retry")
        await asyncio.sleep(interval)
