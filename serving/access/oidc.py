"""OpenID Connect: the provider's discovery document and key set, bearer-token validation, and the
authorization-code sign-in (with PKCE and a nonce) for the page.

Tokens are JWTs checked against the provider's published keys (JWKS): signature with an asymmetric algorithm
only (never `none`, never a shared-secret algorithm a public key could be misused for), issuer, audience, expiry
and not-before. The key set is re-read when a token names a key it does not hold (the provider rotated), at most
once a minute, so a forged `kid` cannot make us hammer the provider.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from configs.errors import ConfigError, ModelUnavailable
from configs.settings import AuthSettings
from serving.access.identity import OIDC_PREFIX, Identity, parse_groups

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 30
JWKS_REFRESH_S = 60.0
NAME_MAX = 80
NAME_CHARS = "@._-+' "


def _name(claims: dict[str, Any], claim: str) -> str | None:
    """The name to show: the configured claim, else the e-mail, where an e-mail counts only once the provider
    verified it (an unverified address is whatever the user typed). Only letters, digits and `@._-+' ` are kept:
    the page shows the name as Markdown, where a chosen username could otherwise draw a link."""
    for candidate in (claim, "email"):
        value = claims.get(candidate)
        if candidate == "email" and claims.get("email_verified") not in (True, "true"):
            continue
        if isinstance(value, str) and (shown := "".join(c for c in value if c.isalnum() or c in NAME_CHARS).strip()):
            return shown[:NAME_MAX]
    return None


class TokenError(Exception):
    """A bearer or ID token that must be refused; the message says why, for the 401 reply."""


class OidcProvider:
    """One provider, configured by auth.oidc_issuer / oidc_client_id (secret from the environment)."""

    def __init__(self, settings: AuthSettings) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ConfigError("OpenID Connect needs auth.oidc_issuer and auth.oidc_client_id")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.audience = settings.oidc_audience or settings.oidc_client_id
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_read = 0.0
        self._lock = threading.Lock()

    # --- the provider's documents ----------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer + "/.well-known/openid-configuration"
            data = self._get(url)
            if data.get("issuer", "").rstrip("/") != self.issuer:
                raise ConfigError(f"{url} names issuer {data.get('issuer')!r}; set auth.oidc_issuer to exactly that")
            self._metadata = data
        return self._metadata

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.settings.http_timeout_s)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelUnavailable(
                f"the sign-in provider is unreachable ({url}: {exc}); check auth.oidc_issuer"
            ) from exc
        if not isinstance(data, dict):
            raise ModelUnavailable(f"{url} did not return a JSON object; check auth.oidc_issuer")
        return data

    def _key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            known = self._keys is not None and (kid is None or any(k.kid == kid for k in self._keys.keys))
            stale = time.monotonic() - self._keys_read > JWKS_REFRESH_S
            if self._keys is None or (not known and stale):
                data = self._get(str(self.metadata()["jwks_uri"]))
                try:
                    self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
                except (JoseError, ValueError, KeyError, TypeError) as exc:
                    raise ModelUnavailable(f"the provider's key set could not be read ({exc})") from exc
                self._keys_read = time.monotonic()
            return self._keys

    # --- tokens ------------------------------------------------------------------------------------------
    def validate(self, token: str, audience: str | None = None, nonce: str | None = None) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience, expiry (and nonce) are checked."""
        try:
            header = extract_compact(token.encode()).protected if token.count(".") == 2 else None
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError("the bearer token is not a well-formed JWT") from exc
        if not header:
            raise TokenError("the bearer token is not a JWT")
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"tokens signed with {header.get('alg')!r} are not accepted")
        keys = self._key_set(header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
        except JoseError as exc:
            raise TokenError(
                f"the token's signature does not verify against the provider's keys ({exc.error})"
            ) from exc
        claims = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_S,
            iss={"essential": True, "value": self.metadata()["issuer"]},
            aud={"essential": True, "value": audience or self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            reasons = {"expired_token": "the token has expired; sign in again"}  # nosec B105  # an error message, not a password
            raise TokenError(reasons.get(exc.error, f"the token was refused ({exc.error}: {exc.description})")) from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenError("the ID token's nonce does not match this sign-in; sign in again")
        return claims

    def user_id(self, sub: str) -> str:
        """The stable id of the provider's subject: namespaced by issuer, so it never equals an API key's user name
        (which cannot start with `oidc:`) nor the same `sub` at another provider."""
        return f"{OIDC_PREFIX}{hashlib.sha256(self.issuer.encode()).hexdigest()[:8]}:{sub}"

    def identity(self, claims: dict[str, Any]) -> Identity:
        """Who the token's claims name: keyed by issuer and `sub` (never by a name the user may choose), shown by
        auth.oidc_user_claim or a verified e-mail, in the groups of auth.oidc_groups_claim."""
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("the token names no subject (no sub claim)")
        value: Any = claims
        for part in self.settings.oidc_groups_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        groups = parse_groups(value) if isinstance(value, str | list) else frozenset()
        name = _name(claims, self.settings.oidc_user_claim)
        return Identity(self.user_id(sub), frozenset(g.lstrip("/") for g in groups), "oidc", name=name)

    # --- the sign-in flow for the page -------------------------------------------------------------------
    def _client(self, redirect_uri: str) -> OAuth2Client:
        secret = self.settings.oidc_client_secret
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",  # PKCE
            timeout=self.settings.http_timeout_s,
        )

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return str(url)

    def sign_in(self, redirect_uri: str, code: str, verifier: str, nonce: str) -> Identity:
        """Exchanges the code for tokens and returns who signed in (from the validated ID token)."""
        try:
            with self._client(redirect_uri) as client:
                tokens = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    code=code,
                    code_verifier=verifier,
                    grant_type="authorization_code",
                )
        except Exception as exc:  # authlib raises its own OAuth errors and httpx's; all end the sign-in the same way
            raise TokenError(f"the provider refused the sign-in ({exc})") from exc
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise TokenError("the provider returned no ID token; is 'openid' in auth.oidc_scopes?")
        return self.identity(self.validate(id_token, audience=self.client_id, nonce=nonce))
