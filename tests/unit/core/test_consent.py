"""Remembered consent."""

from __future__ import annotations

from ostiary.core.consent import consent_covers, remember_consent
from ostiary.core.models import ClientId

from ..support import PUBLIC_ID, USER_ID, Harness


async def test_no_consent_covers_nothing(h: Harness) -> None:
    assert not await consent_covers(USER_ID, PUBLIC_ID, frozenset({"tools:read"}), h.deps)


async def test_remembered_consent_covers_its_scopes_and_subsets(h: Harness) -> None:
    scopes = frozenset({"tools:read", "tools:execute"})
    await remember_consent(USER_ID, PUBLIC_ID, scopes, h.deps)
    assert await consent_covers(USER_ID, PUBLIC_ID, scopes, h.deps)
    assert await consent_covers(USER_ID, PUBLIC_ID, frozenset({"tools:read"}), h.deps)
    assert await consent_covers(USER_ID, PUBLIC_ID, frozenset(), h.deps)
    assert not await consent_covers(USER_ID, PUBLIC_ID, frozenset({"prompts:read"}), h.deps)
    assert not await consent_covers(USER_ID, ClientId("other"), scopes, h.deps)


async def test_remembering_more_scopes_adds_to_earlier_consent(h: Harness) -> None:
    await remember_consent(USER_ID, PUBLIC_ID, frozenset({"tools:read"}), h.deps)
    h.clock.advance(100)
    await remember_consent(USER_ID, PUBLIC_ID, frozenset({"prompts:read"}), h.deps)
    stored = await h.storage.get_consent(USER_ID, PUBLIC_ID)
    assert stored is not None
    assert stored.scopes == {"tools:read", "prompts:read"}
    assert stored.updated_at == h.clock.now()
