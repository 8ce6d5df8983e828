"""The bounded session-owner map."""

from __future__ import annotations

from ostiary.resource.sessions import SessionOwners

ALICE = ("https://as.example", "alice")
BOB = ("https://as.example", "bob")


def test_first_owner_wins_and_others_are_refused() -> None:
    owners = SessionOwners()
    owners.bind("s1", ALICE)
    owners.bind("s1", BOB)
    assert owners.owned_by("s1", ALICE)
    assert not owners.owned_by("s1", BOB)
    assert not owners.owned_by("s2", ALICE)
    assert not owners.owned_by("s1", ("https://other.example", "alice"))
    owners.forget("s1")
    owners.forget("s1")
    assert not owners.owned_by("s1", ALICE)


def test_least_recently_used_is_evicted() -> None:
    owners = SessionOwners(limit=2)
    owners.bind("a", ALICE)
    owners.bind("b", ALICE)
    assert owners.owned_by("a", ALICE)  # a is now the most recent
    owners.bind("c", BOB)
    assert len(owners) == 2
    assert not owners.owned_by("b", ALICE)
    assert owners.owned_by("a", ALICE)
    assert owners.owned_by("c", BOB)
