"""The Teams door's two tokens: the Bot Framework's token on each incoming activity, checked before anything reads
the activity's body, and the bot's own token for replying through the activity's serviceUrl.

Written by hand because the Microsoft 365 Agents SDK (1.9) lacks both as this door needs them:
- Its `JwtTokenValidator` fetches signing keys from a fixed address (login.botframework.com, or Entra ID's
  login.microsoftonline.com), never from a configured OpenID metadata document, so teams.openid_metadata_url could
  not be honoured (nor a test serve its own keys); its issuer check is opt-in and always admits Microsoft's
  first-party tenants; and it leaves the token's `serviceurl` claim unchecked (a warning only). Here: the keys come
  from the `jwks_uri` of teams.openid_metadata_url; issuer, audience, expiry and signature are checked with PyJWT
  (as the SDK does underneath) before the body is read (`verify`); once it is parsed, the key's endorsements must
  name the activity's channel and the token must name the activity's serviceUrl (`holds`), so a token issued for
  one service cannot send the bot's replies (and its own bearer token) to another. The result is the SDK's
  `ClaimsIdentity`, which its adapter takes.
- Its outgoing tokens come from the separate MSAL package (microsoft-agents-authentication-msal, not a dependency
  here); `ClientCredentials` is the one OAuth client-credentials request the bot needs, as an SDK
  `AccessTokenProviderBase` for its `ConnectionManager`, against teams.token_url.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from azure.core.credentials_async import AsyncTokenCredential
from microsoft_agents.hosting.core import AccessTokenProviderBase, AgentAuthConfiguration, ClaimsIdentity

from configs.settings import TeamsSettings

logger = logging.getLogger(__name__)

CLOCK_SKEW_S = 300  # the Bot Framework's documented allowance for clock differences
KEYS_MAX_AGE_S = 24 * 3600  # signing keys are re-read at least daily (they rotate)
UNKNOWN_KID_REFETCH_S = 300  # a token naming an unknown key re-reads them at most this often (no fetch storm)
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
UNSUPPORTED = "the Teams door gets its token by client credentials only (no user or agentic tokens)"


class Refused(Exception):
    """An incoming request whose token does not prove it comes from the Bot Framework for this bot (401)."""


class KeysUnavailable(Exception):
    """The signing keys cannot be read, so no token can be checked (503: the Bot Framework retries)."""


class NoBotToken(Exception):
    """The bot cannot get its own token, so it cannot reply (logged; nothing reaches the user)."""


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Verified:
    """A bearer token whose signature, issuer, audience and expiry hold, and the channels its key is endorsed for
    (None: the key names none)."""

    token: str
    claims: dict[str, Any]
    endorsements: tuple[str, ...] | None


class IncomingTokens:
    """Checks the bearer token the Bot Framework sends with each activity."""

    def __init__(self, settings: TeamsSettings) -> None:
        self.metadata_url = settings.openid_metadata_url
        self.issuer = settings.issuer
        self.audience = settings.app_id
        self._keys: dict[str, dict[str, Any]] = {}
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None) -> Verified:
        """The token of a request's `Authorization: Bearer <token>`, its signature, issuer, audience and expiry
        checked; needs nothing of the body, so a request that fails here is refused before its body is read.
        Refused when anything does not hold."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused("no bearer token")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Refused(f"unreadable token ({type(exc).__name__})") from exc
        jwk = await self._key(str(kid or ""))
        try:
            claims = jwt.decode(
                token,
                jwt.PyJWK(jwk).key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Refused(f"token rejected ({type(exc).__name__})") from exc
        endorsements = jwk.get("endorsements")
        return Verified(token, claims, tuple(endorsements) if isinstance(endorsements, list) else None)

    @staticmethod
    def holds(verified: Verified, service_url: str, channel_id: str) -> ClaimsIdentity:
        """The claims of a verified token, for an activity from channel_id that names service_url: the signing
        key must be endorsed for that channel and the token must name that serviceUrl (Refused otherwise)."""
        if verified.endorsements is not None and channel_id not in verified.endorsements:
            raise Refused(f"the signing key is not endorsed for channel {channel_id!r}")
        named = verified.claims.get("serviceurl")
        if not isinstance(named, str) or not _same_url(named, service_url):
            raise Refused("the token does not name the activity's serviceUrl")
        return ClaimsIdentity(verified.claims, "Bearer", security_token=verified.token)

    async def _key(self, kid: str) -> dict[str, Any]:
        """The published key with this id, re-reading the keys when they are old or (rarely) when a token names
        one not yet seen."""
        async with self._lock:
            age = time.monotonic() - self._read_at
            if not self._read_at or age > KEYS_MAX_AGE_S or (kid not in self._keys and age > UNKNOWN_KID_REFETCH_S):
                self._keys = await self._read_keys()
                self._read_at = time.monotonic()
        if kid not in self._keys:
            raise Refused("the token is signed by a key the Bot Framework does not publish")
        return self._keys[kid]

    async def _read_keys(self) -> dict[str, dict[str, Any]]:
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
                async with http.get(self.metadata_url) as r:
                    r.raise_for_status()
                    jwks_uri = (await r.json(content_type=None))["jwks_uri"]
                async with http.get(jwks_uri) as r:
                    r.raise_for_status()
                    keys = (await r.json(content_type=None))["keys"]
        except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            raise KeysUnavailable(
                f"cannot read the Bot Framework's signing keys from {self.metadata_url} ({exc!r}); check "
                "teams.openid_metadata_url and that this server reaches it"
            ) from exc
        return {str(k["kid"]): k for k in keys if isinstance(k, dict) and k.get("kid")}


def token_url(settings: TeamsSettings) -> str:
    """Where the bot asks for its own token: teams.token_url, else Entra ID's endpoint for the bot's tenant."""
    if settings.token_url:
        return settings.token_url
    tenant = settings.tenant_id or "botframework.com"
    return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"


class ClientCredentials(AccessTokenProviderBase):
    """The bot's own access token (OAuth client credentials: app id and password), cached until shortly before it
    expires; the SDK's connector client sends it with every reply."""

    def __init__(self, configuration: AgentAuthConfiguration, url: str) -> None:
        self._configuration = configuration
        self.url = url
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        scope = " ".join(scopes) if scopes else f"{resource_url.rstrip('/')}/.default"
        async with self._lock:
            cached = self._cache.get(scope)
            if cached and not force_refresh and cached[1] > time.time() + CLOCK_SKEW_S:
                return cached[0]
            token, expires_in = await self._request(scope)
            self._cache[scope] = (token, time.time() + expires_in)
            return token

    async def _request(self, scope: str) -> tuple[str, float]:
        config = self._configuration
        form = {
            "grant_type": "client_credentials",
            "client_id": config.CLIENT_ID or "",
            "client_secret": config.CLIENT_SECRET or "",
            "scope": scope,
        }
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, http.post(self.url, data=form) as r:
                body = await r.json(content_type=None)
                if r.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                    detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else body
                    raise NoBotToken(
                        f"the token endpoint {self.url} refused the bot's credentials (HTTP {r.status}: {detail}); "
                        "check teams.app_id, teams.tenant_id and KB_TEAMS__APP_PASSWORD"
                    )
                return str(body["access_token"]), float(body.get("expires_in", 3600))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise NoBotToken(f"cannot reach the token endpoint {self.url} ({exc!r}); check teams.token_url") from exc

    def get_token_credential(self) -> AsyncTokenCredential:
        raise NotImplementedError(UNSUPPORTED)

    # Flows of other bots (on behalf of a user, agentic identities), which this door never starts.
    async def acquire_token_on_behalf_of(self, scopes: list[str], user_assertion: str) -> str:
        raise NotImplementedError(UNSUPPORTED)

    async def get_agentic_application_token(self, tenant_id: str, agent_app_instance_id: str) -> str | None:
        raise NotImplementedError(UNSUPPORTED)

    async def get_agentic_instance_token(self, tenant_id: str, agent_app_instance_id: str) -> tuple[str, str]:
        raise NotImplementedError(UNSUPPORTED)

    async def get_agentic_user_token(
        self, tenant_id: str, agent_app_instance_id: str, agentic_user_id: str, scopes: list[str]
    ) -> str | None:
        raise NotImplementedError(UNSUPPORTED)
