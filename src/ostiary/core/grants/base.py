"""The shape every grant handler has."""

from __future__ import annotations

from typing import Protocol

from ostiary.core.deps import Deps
from ostiary.core.models import Client
from ostiary.core.params import Params
from ostiary.core.responses import TokenResponse


class GrantHandler(Protocol):
    """Handles one ``grant_type`` for an authenticated client."""

    async def __call__(self, params: Params, client: Client, deps: Deps) -> TokenResponse: ...
