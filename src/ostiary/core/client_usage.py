"""When a dynamically registered client was last used, for the unused-client cleanup.

The token endpoint reports each client it authenticated; the store is written at most once a
``TOUCH_INTERVAL`` per client, decided from the (possibly cached) client record, so the hot
path adds no write otherwise. Clients an operator registered are never cleaned up, so their
use is not recorded.
"""

from __future__ import annotations

from ostiary.core.deps import Deps
from ostiary.core.models import Client

TOUCH_INTERVAL = 24 * 3600


async def note_client_use(client: Client, deps: Deps) -> None:
    if not client.dynamic:
        return
    now = deps.clock.now()
    if client.last_used_at is None or now - client.last_used_at >= TOUCH_INTERVAL:
        await deps.storage.touch_client(client.client_id, now)
