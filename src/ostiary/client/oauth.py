"""``OAuthClient``: one MCP server's tokens, obtained, kept, refreshed and widened on demand.

The HTTP adapters (``httpx_auth``) ask it three things:

* ``access_token()`` before a request: the stored token, refreshed first when it expires
  within ``refresh_skew`` seconds (None when there is none yet: the request goes without,
  and the server's 401 starts a login);
* ``recover(challenge, sent)`` after a 401: one refresh, else a new login;
* ``step_up(challenge, sent)`` after a 403 ``insufficient_scope``: a new authorization for
  the union of what was asked before and what the challenge names (REQ-CL-22).

Every change happens under the store's cross-process lock for this server, and starts by
re-reading the store: when ten processes find an expired token at once, one refreshes and
nine use its result; when they all need a login, one browser tab opens. A new refresh token
is saved before anything else is done with the answer (rotation, REQ-CL-21).

Registrations are per authorization server (REQ-CL-10). A registration the server no longer
knows (its database was reset, the client was removed) is dropped and made again once: a
dynamic registration's authorization URL is checked before the browser opens, and a token
endpoint's ``invalid_client`` triggers the same, so no one has to delete files to recover.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from ostiary.client import discovery, revocation, token_requests
from ostiary.client.authorization import PendingAuthorization, check_callback, new_authorization
from ostiary.client.browser import Opener, check_authorization_url
from ostiary.client.callback import LoopbackCallback, read_pasted_redirect
from ostiary.client.challenges import bearer_challenge
from ostiary.client.enterprise import IdentityAssertion, enterprise_tokens
from ostiary.client.errors import AuthorizationError, StepUpLimit, TokenError
from ostiary.client.models import Challenge, ClientRegistration, ServerMetadata, Session, TokenSet
from ostiary.client.registration import ClientProfile, obtain_registration
from ostiary.client.store import CredentialStore
from ostiary.client.token_info import display_subject

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How the client behaves; the defaults suit a person at a desktop.

    ``machine``: obtain tokens with ``client_credentials`` (pre-registered credentials, no
    person, no browser) instead of the authorization-code flow; ``identity``: with an
    enterprise identity provider's ID token (``enterprise.py``).
    """

    refresh_skew: float = 60.0
    max_step_ups: int = 3
    callback_port: int = 0
    callback_timeout: float = 300.0
    protocol_version: str | None = None
    machine: bool = False
    scope: str | None = None  # ask for exactly this, whatever the server suggests
    paste: bool = False  # also accept the final address pasted on stdin (--no-browser)
    identity: IdentityAssertion | None = None  # SEP-990: an ID token instead of a browser


class OAuthClient:
    def __init__(
        self,
        server_url: str,
        *,
        store: CredentialStore,
        profile: ClientProfile,
        opener: Opener,
        options: ClientOptions | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.server_url = server_url
        self._progress = progress or _quiet
        self.resource = discovery.canonical_resource(server_url)
        self.store = store
        self.profile = profile
        self.opener = opener
        self.options = options or ClientOptions()
        self._http = http
        self._clock = clock
        self._step_ups: dict[str, int] = {}
        self._usable: TokenSet | None = None  # see access_token
        self._started = int(clock())
        self._checked: set[str] = set()  # issuers whose stored registration was checked

    # -- what the adapters call --------------------------------------------------------------

    async def access_token(self) -> str | None:
        """A usable stored access token, refreshed first if it is about to expire.

        The last one read is kept in memory until it nears expiry or a request fails with
        it, so a stream of requests does not read the store (a file, or the keyring) each time.
        """
        if self._usable is not None and not self._expiring(self._usable):
            return self._usable.access_token
        self._usable = None
        session = self.store.get_session(self.resource)
        if session is None or session.tokens is None:
            return None
        if not self._expiring(session.tokens):
            self._usable = session.tokens
            return session.tokens.access_token
        async with self.store.lock(self.resource):
            session = self.store.get_session(self.resource)
            if session is None or session.tokens is None:
                return None
            if not self._expiring(session.tokens):
                self._usable = session.tokens
                return session.tokens.access_token
            self._usable = await self._try_refresh(session)
        return None if self._usable is None else self._usable.access_token

    async def recover(self, challenge: Challenge | None, sent: str | None) -> str:
        """After a 401 to a request that carried ``sent``: a token to retry with."""
        self._usable = None
        async with self.store.lock(self.resource):
            session = self.store.get_session(self.resource)
            if session is not None and session.tokens is not None:
                if session.tokens.access_token != sent and not self._expiring(session.tokens):
                    return session.tokens.access_token  # renewed meanwhile, here or elsewhere
                if sent is not None and session.tokens.refresh_token is not None:
                    refreshed = await self._try_refresh(session)
                    if refreshed is not None:
                        return refreshed.access_token
            session = await self._login(challenge, self._initial_scope(challenge, session))
        assert session.tokens is not None
        return session.tokens.access_token

    async def step_up(self, challenge: Challenge, sent: str | None, operation: str = "") -> str:
        """After a 403 ``insufficient_scope``: authorize again for the union of the scopes.

        At most ``max_step_ups`` times per ``operation`` (the adapters pass the HTTP and
        JSON-RPC method and the tool or resource name) in this client's life, and never when
        the token already holds every scope the challenge names: another authorization could
        not change the answer (REQ-CL-22). Either way ``StepUpLimit``.
        """
        self._usable = None
        async with self.store.lock(self.resource):
            session = self.store.get_session(self.resource)
            tokens = None if session is None else session.tokens
            if tokens is not None and sent is not None and tokens.access_token != sent:
                return tokens.access_token  # widened meanwhile by another process
            wanted = challenge.scope
            if not wanted and session is not None and session.protected is not None:
                wanted = " ".join(session.protected.scopes_supported or ())  # REQ-CL-11
            needed = set((wanted or "").split())
            granted = None if tokens is None else tokens.scope
            if not needed or (tokens is not None and needed <= set((granted or "").split())):
                named = " ".join(sorted(needed)) or "no scope"
                raise StepUpLimit(
                    f"{self.server_url} answers 403 insufficient_scope naming {named}, which "
                    "the token already holds; signing in again cannot help (check the "
                    "server's scope policy)"
                )
            count = self._step_ups.get(operation, 0)
            if count >= self.options.max_step_ups:
                raise StepUpLimit(
                    f"{self.server_url} still answers 403 insufficient_scope after {count} "
                    f"re-authorizations (it asks for {challenge.scope!r})"
                )
            self._step_ups[operation] = count + 1
            self._progress(f"{self.resource} needs more scopes ({wanted}): signing in again.")
            requested = None if session is None else session.requested_scope
            scope = union_scopes(requested, granted, wanted)
            session = await self._login(challenge, scope or None)
        assert session.tokens is not None
        return session.tokens.access_token

    # -- explicit operations (the command line) ----------------------------------------------

    async def login(self, *, force: bool = False) -> Session:
        """Make sure a session with tokens exists (``force``: authorize again regardless)."""
        self._usable = None
        async with self.store.lock(self.resource):
            session = self.store.get_session(self.resource)
            if not force and session is not None and session.tokens is not None:
                if not self._expiring(session.tokens):
                    return session
                if await self._try_refresh(session) is not None:
                    renewed = self.store.get_session(self.resource)
                    assert renewed is not None
                    return renewed
            challenge = await self._probe()
            return await self._login(challenge, self._initial_scope(challenge, session))

    async def logout(self) -> bool:
        """Forget this server's tokens (revoking the refresh token where the server allows)."""
        self._usable = None
        async with self.store.lock(self.resource):
            session = self.store.get_session(self.resource)
            if session is None:
                return False
            await self._revoke(session)
            self.store.drop_session(self.resource)
            return True

    # -- the steps ---------------------------------------------------------------------------

    def _expiring(self, tokens: TokenSet) -> bool:
        """Within the refresh skew of expiry; the skew is at most half the token's lifetime,
        so a token issued for less than twice the skew is not refreshed on every request."""
        skew = self.options.refresh_skew
        if tokens.expires_at is not None and tokens.obtained_at:
            skew = min(skew, (tokens.expires_at - tokens.obtained_at) / 2)
        return tokens.expires_within(skew, self._clock())

    def _initial_scope(self, challenge: Challenge | None, session: Session | None) -> str | None:
        if self.options.scope is not None:
            return self.options.scope
        if challenge is not None and challenge.scope:
            return challenge.scope
        return None if session is None else session.requested_scope

    async def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=30, follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _probe(self) -> Challenge | None:
        """An unauthenticated request to the MCP URL, for its challenge (scope, metadata URL)."""
        answer = await probe(await self._client(), self.server_url)
        if answer.status_code in (401, 403):
            return bearer_challenge(answer.headers.get_list("www-authenticate"))
        return None

    async def _try_refresh(self, session: Session) -> TokenSet | None:
        """Refresh and save; on a refused refresh token drop the tokens and return None."""
        tokens = session.tokens
        registration = self.store.get_client(session.issuer)
        if tokens is None or tokens.refresh_token is None or registration is None:
            return None
        http = await self._client()
        try:
            renewed = await token_requests.refresh(
                http,
                session.server,
                registration,
                previous=tokens,
                resource=self.resource,
                now=int(self._clock()),
            )
        except TokenError as exc:
            if exc.error == "invalid_client":
                self.store.drop_client(session.issuer)
            if exc.error in ("invalid_grant", "invalid_client", "unauthorized_client"):
                log.info("refresh refused (%s): a new authorization is needed", exc.error)
                self.store.put_session(replace(session, tokens=None))
                return None
            raise
        self.store.put_session(replace(session, tokens=renewed))
        return renewed

    async def _login(self, challenge: Challenge | None, scope: str | None) -> Session:
        http = await self._client()
        protected, server = await discovery.discover(
            http, self.server_url, challenge, protocol_version=self.options.protocol_version
        )
        if scope is None and self.options.scope is None:
            scope = discovery.select_scope(challenge, protected, server)
        if self.options.identity is not None:
            registration = await self._registration(server, ())
            tokens = await enterprise_tokens(
                http,
                server,
                registration,
                self.options.identity,
                resource=self.resource,
                scope=scope,
                now=int(self._clock()),
            )
        elif self.options.machine:
            registration = await self._registration(server, ())
            tokens = await token_requests.client_credentials(
                http,
                server,
                registration,
                scope=scope,
                resource=self.resource,
                now=int(self._clock()),
            )
        else:
            tokens = await self._authorize(server, scope)
        session = Session(
            resource=self.resource,
            issuer=server.issuer,
            server=server,
            protected=protected,
            tokens=tokens,
            requested_scope=scope,
            subject=display_subject(tokens.access_token),
        )
        self.store.put_session(session)
        self._progress(f"Signed in to {self.resource}.")
        return session

    async def _registration(
        self, server: ServerMetadata, redirect_uris: tuple[str, ...]
    ) -> ClientRegistration:
        stored = self.store.get_client(server.issuer)
        if stored is not None:
            # kept across runs: loopback redirect URIs match on any port (RFC 8252 §7.3), and
            # a server that disagrees answers the check in ``_authorize`` with a 4xx
            return stored
        profile = replace(self.profile, redirect_uris=redirect_uris or self.profile.redirect_uris)
        http = await self._client()
        registration = await obtain_registration(http, server, profile, now=int(self._clock()))
        self.store.put_client(registration)
        return registration

    async def _authorize(
        self, server: ServerMetadata, scope: str | None, *, again: bool = False
    ) -> TokenSet:
        stored = self.store.get_client(server.issuer)
        port = self.options.callback_port or _port_of(stored)
        async with LoopbackCallback(port=port) as callback:
            redirect_uris = (callback.redirect_uri,)
            registration = await self._registration(server, redirect_uris)
            pending = self._pending(server, registration, callback.redirect_uri, scope)
            if self._worth_checking(registration) and not await self._known(pending):
                self._progress("The server no longer knows this client: registering again.")
                self.store.drop_client(server.issuer)
                registration = await self._registration(server, redirect_uris)
                pending = self._pending(server, registration, callback.redirect_uri, scope)
            check_authorization_url(pending.url)
            # a callback failing the checks gets a page without the error text it carried
            callback.expect(pending.state, verify=lambda query: check_callback(query, pending))
            timeout = self.options.callback_timeout
            self._progress(
                f"Sign-in needed for {self.resource}: continue in the browser "
                f"(waiting up to {timeout:.0f} s)."
            )
            await self.opener(pending.url)
            params = await self._answer(callback, pending)
        code = check_callback(params, pending)
        http = await self._client()
        try:
            return await token_requests.exchange_code(
                http,
                server,
                registration,
                code=code,
                code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
                resource=self.resource,
                now=int(self._clock()),
                scope=scope,
            )
        except TokenError as exc:
            if exc.error != "invalid_client":
                raise
            self.store.drop_client(server.issuer)
            if registration.source != "dynamic" or again:
                raise
            self._progress("The server no longer knows this client: registering again.")
            return await self._authorize(server, scope, again=True)

    async def _answer(
        self, callback: LoopbackCallback, pending: PendingAuthorization
    ) -> dict[str, str]:
        """The redirect's query: from the loopback listener, or pasted (whichever comes first)."""
        waiting = asyncio.ensure_future(callback.wait(self.options.callback_timeout))
        if not self.options.paste:
            return await waiting
        pasted = asyncio.ensure_future(
            read_pasted_redirect(
                sys.stderr,
                sys.stdin,
                redirect_uri=pending.redirect_uri,
                expected_state=pending.state,
            )
        )
        done, _ = await asyncio.wait({waiting, pasted}, return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done and pasted.exception() is not None:
            # Nothing usable pasted (stdin closed, as in a script, or a wrong address): the
            # browser's redirect can still arrive, so the sign-in is not given up.
            print(f"{pasted.exception()}; waiting for the browser", file=sys.stderr, flush=True)
            return await waiting
        for task in (waiting, pasted):
            if task not in done:
                task.cancel()
        return (waiting if waiting in done else pasted).result()

    def _pending(
        self,
        server: ServerMetadata,
        registration: ClientRegistration,
        redirect_uri: str,
        scope: str | None,
    ) -> PendingAuthorization:
        return new_authorization(
            server,
            client_id=registration.client_id,
            redirect_uri=redirect_uri,
            resource=self.resource,
            scope=scope,
        )

    def _worth_checking(self, registration: ClientRegistration) -> bool:
        """A dynamic registration from an earlier run, not yet checked by this process.

        Only those can have been forgotten by the server; checking costs one request the
        server sees as an authorization attempt, so a fresh one is never checked.
        """
        fresh = registration.registered_at >= self._started
        if registration.source != "dynamic" or fresh or registration.issuer in self._checked:
            return False
        self._checked.add(registration.issuer)
        return True

    async def _known(self, pending: PendingAuthorization) -> bool:
        """Does the authorization endpoint accept this client? A 4xx answer means it does not.

        The request carries no cookies and is never followed: the server at most shows its
        sign-in page to nobody. A network failure counts as known (the browser will tell).
        """
        try:
            answer = await preflight(await self._client(), pending.url)
        except httpx.HTTPError:
            return True
        return not 400 <= answer.status_code < 500

    async def _revoke(self, session: Session) -> None:
        endpoint = session.server.revocation_endpoint
        registration = self.store.get_client(session.issuer)
        tokens = session.tokens
        if endpoint is None or registration is None or tokens is None:
            return
        token = tokens.refresh_token or tokens.access_token
        http = await self._client()
        try:
            await revocation.revoke(
                http, session.server, registration, token=token, now=int(self._clock())
            )
        except (TokenError, httpx.HTTPError) as exc:
            log.info("revocation failed, forgetting the tokens anyway: %s", exc)


async def probe(http: httpx.AsyncClient, mcp_url: str) -> httpx.Response:
    """A ``ping`` with no token: a protected server answers 401 with its challenge."""
    return await http.post(
        mcp_url,
        json={"jsonrpc": "2.0", "id": 0, "method": "ping"},
        headers={"Accept": "application/json, text/event-stream"},
    )


async def preflight(http: httpx.AsyncClient, authorization_url: str) -> httpx.Response:
    """The authorization endpoint's answer to ``authorization_url``, without cookies and not
    followed: a 4xx means it refuses the client or its redirect URI."""
    return await http.get(authorization_url, headers={"Accept": "text/html"})


def _quiet(message: str) -> None:
    log.info("%s", message)


def union_scopes(*scopes: str | None) -> str:
    """Space-separated union, first-seen order."""
    seen: dict[str, None] = {}
    for scope in scopes:
        for part in (scope or "").split():
            seen.setdefault(part, None)
    return " ".join(seen)


def _port_of(registration: ClientRegistration | None) -> int:
    """The loopback port this client registered before (reusing it keeps strict servers happy)."""
    if registration is None:
        return 0
    for uri in registration.redirect_uris:
        port = httpx.URL(uri).port
        if port:
            return port
    return 0


__all__ = ["AuthorizationError", "ClientOptions", "OAuthClient", "union_scopes"]
