"""Authentication: who sent a request (API key, OIDC bearer token or the page's sign-in cookie), and the gate that
turns everyone else away once authentication is on.

Authentication is decided once, at start (auth.required, or automatically: OIDC configured, listening beyond
loopback, or an API key ever created here), and only ever switched on while running, by the first key created: it
is never inferred per request, so revoking every key or losing the keys database locks the server rather than
opening it. Until then the one person on this machine is `local` and may do everything. The gate is ASGI
middleware in front of the whole app, the page's own routes included, so no route can forget it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from functools import partial
from http.cookies import SimpleCookie
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Receive, Scope, Send

from configs.errors import ConfigError, ModelUnavailable, StoreUnavailable
from configs.settings import AuthSettings, Settings
from serving.access.identity import LOCAL, Identity
from serving.access.keys import KeyStore
from serving.access.oidc import OidcProvider, TokenError
from serving.error_shape import error_body, send_json

logger = logging.getLogger(__name__)

SESSION_COOKIE = "kb_session"
LOGIN_COOKIE = "kb_signin"
# Reachable without signing in: the sign-in pages themselves and the health check.
OPEN_PATHS = ("/login", "/login/oidc", "/auth/callback", "/logout", "/v1/health")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class AuthError(Exception):
    """A credential was presented and refused; the message says why (401)."""


class Authenticator:
    """Finds the identity behind a request's headers."""

    def __init__(
        self, settings: AuthSettings, keys: KeyStore, oidc: OidcProvider | None, host: str = "127.0.0.1"
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.oidc = oidc
        self._required = auth_required(settings, host, keys)
        secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_hex(32)
        self._sessions = URLSafeTimedSerializer(secret, salt="kb-session")
        self._signins = URLSafeTimedSerializer(secret, salt="kb-signin")
        self.session_seconds = int(settings.session_hours * 3600)

    def required(self) -> bool:
        """Authentication is on. Decided at start; with auth.required unset, the first key created while the server
        runs switches it on at once, and nothing switches it off again."""
        if not self._required and self.settings.required is None and self.keys.ever_keyed():
            self._required = True
        return self._required

    def identify(self, headers: Mapping[str, str], allow_cookie: bool = True) -> Identity | None:
        """The request's identity; None when it carries no credential (and authentication is on). A credential
        that is presented but invalid raises AuthError rather than falling back to anonymous."""
        if not self.required():
            return LOCAL  # OpenAI clients always send some key: with authentication off, it is not checked
        header = headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("send the key or token as 'Authorization: Bearer <key>'")
            return self._bearer(token.strip())
        if allow_cookie:
            identity = self.from_session(_cookies(headers).get(SESSION_COOKIE))
            if identity is not None:
                return identity
        return None

    def _bearer(self, token: str) -> Identity:
        if token.startswith("kb-"):
            record = self.keys.verify(token)
            if record is None:
                raise AuthError("the API key is unknown or revoked; create one with `python -m serving keys create`")
            return Identity(record.user, record.groups, "key", record.id)
        if self.oidc is None:
            raise AuthError("the bearer token is not an API key of this server (and no OIDC provider is configured)")
        try:
            return self.oidc.identity(self.oidc.validate(token))
        except TokenError as exc:
            raise AuthError(str(exc)) from exc

    # --- the page's sign-in cookie ----------------------------------------------------------------------
    def session_cookie(self, identity: Identity) -> str:
        """Opens a server-side session (auth.keys_db keeps its id's hash) and returns the signed cookie naming it."""
        return self._sessions.dumps({"s": self.keys.sessions.open(identity, self.session_seconds)})

    def _session_id(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            data = self._sessions.loads(value, max_age=self.session_seconds)
        except BadSignature:  # forged, tampered with, expired, or signed before a restart with a random secret
            return None
        session_id = data.get("s") if isinstance(data, dict) else None
        return session_id if isinstance(session_id, str) and session_id else None

    def from_session(self, value: str | None) -> Identity | None:
        """The identity of the cookie's session, while it is open: signed out, revoked (`sessions revoke`, or its
        key revoked) or past auth.session_hours, it is refused however valid the cookie's signature."""
        session_id = self._session_id(value)
        return self.keys.sessions.find(session_id) if session_id else None

    def end_session(self, value: str | None) -> None:
        """Sign-out: the cookie's session ends on the server, so a copy of the cookie opens nothing afterwards."""
        session_id = self._session_id(value)
        if session_id:
            self.keys.sessions.end(session_id)

    def signin_state(self, data: dict[str, str]) -> str:
        return self._signins.dumps(data)

    def read_signin_state(self, value: str | None) -> dict[str, str] | None:
        try:
            return dict(self._signins.loads(value or "", max_age=600))
        except BadSignature:
            return None


def _cookies(headers: Mapping[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no credential at all
        return {}
    return {k: m.value for k, m in jar.items()}


class AuthGate:
    """ASGI middleware: resolves every request's identity into scope["state"]["identity"], and refuses requests
    without one (401 JSON for the API and the page's calls, a redirect to /login for a browser opening a page)."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        open_paths: tuple[str, ...] = (),
        host: str = "127.0.0.1:7860",
        own_auth: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.auth = authenticator
        self.host = host  # host:port it listens on, for addresses it gives out
        # Paths whose routes authenticate their callers themselves (a Slack signature, a Bot Framework token): the
        # gate neither reads their Authorization header (it is not ours: no OIDC lookup, no key check) nor refuses.
        self.own_auth = own_auth
        self.open_paths = OPEN_PATHS + open_paths  # e.g. /metrics when it checks a token of its own

    def _open(self, path: str) -> bool:
        # Exact paths only: a prefix (say /login/) would also reach whatever else is mounted under it.
        return path in self.open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in self.own_auth:
            scope.setdefault("state", {})["identity"] = None
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        try:
            # The cookie authenticates the page and what it links to (GET); state-changing API calls need a
            # bearer credential, so another site cannot make a signed-in browser post to /v1.
            # The MCP endpoint is an API too: bearer only, whatever the method (its GET opens an event stream).
            api = path.startswith("/v1/") or path == "/mcp" or path.startswith("/mcp/")
            cookie_ok = not api or (method in ("GET", "HEAD") and not path.startswith("/mcp"))
            identity = self.auth.identify(headers, allow_cookie=cookie_ok)
        except AuthError as exc:
            if not self._open(path):  # an open path (sign-in, health, a token-checked /metrics) goes on without one
                await _refuse(scope, send, str(exc), challenge=self._challenge(path))
                return
            identity = None
        except (ModelUnavailable, ConfigError, StoreUnavailable) as exc:  # the provider or key store is down
            await _refuse(scope, send, str(exc), 503)
            return
        if identity is None and not self._open(path):
            if method == "GET" and not path.startswith("/v1/") and "text/html" in headers.get("accept", ""):
                await _redirect(send, "/login?next=" + quote(path + _query(scope), safe=""))
            else:
                await _refuse(
                    scope,
                    send,
                    "sign in, or send 'Authorization: Bearer <key>' (python -m serving keys)",
                    challenge=self._challenge(path),
                )
            return
        state = scope.setdefault("state", {})
        state["identity"] = identity
        # The page's events run later than the request that queued them (Gradio's queue), so the page asks this
        # again when an event runs (serving.ui.services.who): signed out or revoked meanwhile, it acts no more.
        state["signed_in"] = partial(self._still_signed_in, headers, cookie_ok, identity)
        await self.app(scope, receive, send)

    def _challenge(self, path: str) -> str:
        """WWW-Authenticate of a 401; for the MCP endpoint with OIDC configured, it names the protected-resource
        metadata (RFC 9728) through which an MCP client discovers the provider to sign in with."""
        value = 'Bearer realm="kb-assistant"'
        s = self.auth.settings
        if (path == "/mcp" or path.startswith("/mcp/")) and s.oidc_issuer:
            value += f', resource_metadata="{resource_base(s, self.host)}/.well-known/oauth-protected-resource/mcp"'
        return value

    def _still_signed_in(self, headers: Mapping[str, str], allow_cookie: bool, identity: Identity | None) -> bool:
        """The request's credential still names the identity the gate let in (a store or provider outage raises)."""
        try:
            return identity is not None and self.auth.identify(headers, allow_cookie=allow_cookie) == identity
        except AuthError:
            return False


def _query(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return "?" + query if query else ""


async def _refuse(
    scope: Scope, send: Send, message: str, status: int = 401, challenge: str = 'Bearer realm="kb-assistant"'
) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    kind = "authentication_error" if status == 401 else "api_error"
    headers = [(b"www-authenticate", challenge.encode())] if status == 401 else []
    await send_json(send, status, error_body(message, kind, with_param=True), headers)


def resource_base(settings: AuthSettings, listen: str) -> str:
    """The server's address as clients see it: auth.public_url, else the address it listens on."""
    return (settings.public_url or f"http://{listen}").rstrip("/")


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 303, "headers": [(b"location", location.encode())]})
    await send({"type": "http.response.body", "body": b""})


def auth_required(settings: AuthSettings, host: str, keys: KeyStore) -> bool:
    """auth.required, or when unset: OIDC configured, listening beyond loopback (unless anonymous remote access was
    explicitly accepted), or an API key ever created here."""
    if settings.required is not None:
        return settings.required
    if settings.oidc_issuer or (host not in LOOPBACK and not settings.allow_anonymous_remote):
        return True
    return keys.ever_keyed()


def check_exposure(settings: Settings) -> None:
    """Refuses to listen beyond loopback when nobody could authenticate there (no OIDC, no active key) or when
    authentication is switched off, unless anonymous remote access is explicitly accepted."""
    auth = settings.auth
    host = settings.serving.host
    if host in LOOPBACK or auth.allow_anonymous_remote:
        return
    keys = KeyStore(settings.resolve(auth.keys_db))
    if auth.required is False:
        raise ConfigError(
            f"refusing to listen on {host} with auth.required: false: anyone who can reach it could read every "
            "document. Remove auth.required (or set it true), or set auth.allow_anonymous_remote: true to accept "
            "the risk"
        )
    if auth.oidc_issuer or keys.any_active():
        return
    raise ConfigError(
        f"refusing to listen on {host} without authentication: anyone who can reach it could read every document. "
        "Create an API key (python -m serving keys create USER --groups G) or configure OpenID Connect "
        "(auth.oidc_issuer, auth.oidc_client_id), or set auth.allow_anonymous_remote: true to accept the risk"
    )
