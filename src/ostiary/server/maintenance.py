"""Background upkeep: expired codes and refresh tokens are deleted, so tables stay small."""

from __future__ import annotations

import asyncio
import logging

from ostiary.core.clock import Clock
from ostiary.storage.protocols import MaintenanceStore

log = logging.getLogger("ostiary.maintenance")

PURGE_INTERVAL = 3600
PURGE_SLACK = 3600  # keep records an hour past expiry, for clock skew and diagnosis


async def purge_once(store: MaintenanceStore, clock: Clock) -> int:
    removed = await store.purge_expired(clock.now() - PURGE_SLACK)
    if removed:
        log.info("purged %d expired codes and refresh tokens", removed)
    return removed


async def purge_forever(
    store: MaintenanceStore, clock: Clock, interval: int = PURGE_INTERVAL
) -> None:
    """Purge now and then every ``interval`` seconds; a failure is logged, never fatal."""
    while True:
        try:
            await purge_once(store, clock)
        except Exception:
            log.exception("purging expired records failed; will retry")
        await asyncio.sleep(interval)
