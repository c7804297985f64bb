"""Signing in to the page: with the OpenID Connect provider (authorization code + PKCE + nonce) or with a personal
API key, either of which ends in the signed, HttpOnly `kb_session` cookie the page, its calls and its file links
are authenticated with. The cookie names a session kept on the server (auth.keys_db): /logout ends it there, so
a copied cookie is worthless afterwards."""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from configs.errors import ConfigError, ModelUnavailable, StoreUnavailable
from serving.access.auth import LOGIN_COOKIE, SESSION_COOKIE, Authenticator
from serving.access.identity import Identity
from serving.access.oidc import TokenError

logger = logging.getLogger(__name__)
Record = Callable[[str, Identity, dict[str, object]], None]


def _safe_next(value: str | None) -> str:
    """Only a path on this server: an open redirect would let a link sign people in and send them elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _page(message: str = "", next_path: str = "/", oidc: bool = False, status: int = 200) -> HTMLResponse:
    provider = (
        f"<p><a id='kb-oidc' class='button' href='/login/oidc?next={quote(next_path, safe='')}'>"
        "Sign in with your organisation's account</a></p><p>or</p>"
        if oidc
        else ""
    )
    note = f"<p class='error' role='alert'>{html.escape(message)}</p>" if message else ""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Knowledge base</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.3rem 0 .8rem;box-sizing:border-box}}
.button,button{{display:inline-block;padding:.5rem 1rem;background:#2563eb;color:#fff;border:0;border-radius:4px;
text-decoration:none;cursor:pointer}} .error{{color:#b91c1c}}</style></head>
<body><h1>Sign in</h1>{note}{provider}
<form method="post" action="/login"><label for="kb-key">API key</label>
<input id="kb-key" name="key" type="password" autocomplete="off" placeholder="kb-...">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<button id="kb-key-submit" type="submit">Sign in with the key</button></form></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})


def build_signin(auth: Authenticator, public_url: str | None, record: Record) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def base(request: Request) -> str:
        return (public_url or str(request.base_url)).rstrip("/")

    def signed_in(request: Request, identity: Identity, next_path: str) -> Response:
        response = RedirectResponse(_safe_next(next_path), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            auth.session_cookie(identity),
            max_age=auth.session_seconds,
            httponly=True,
            samesite="lax",
            secure=base(request).startswith("https://"),
        )
        response.delete_cookie(LOGIN_COOKIE, path="/auth")
        record("signin", identity, {"via": identity.via})
        return response

    @router.get("/login")
    def login_page(next: str = "/") -> Response:  # noqa: A002 (the query parameter's name)
        return _page(next_path=_safe_next(next), oidc=auth.oidc is not None)

    @router.post("/login")
    async def login_with_key(request: Request) -> Response:
        form = await request.form()
        key, next_path = str(form.get("key", "")).strip(), _safe_next(str(form.get("next", "/")))
        record_ = auth.keys.verify(key) if key.startswith("kb-") else None
        if record_ is None:
            return _page("That key is unknown or revoked.", next_path, auth.oidc is not None, 401)
        return signed_in(request, Identity(record_.user, record_.groups, "key", record_.id), next_path)

    @router.get("/login/oidc")
    def login_with_provider(request: Request, next: str = "/") -> Response:  # noqa: A002
        if auth.oidc is None:
            return _page("No sign-in provider is configured; use an API key.", _safe_next(next), False, 404)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        try:
            url = auth.oidc.authorization_url(base(request) + "/auth/callback", state, nonce, verifier)
        except (ModelUnavailable, ConfigError, StoreUnavailable) as exc:
            return _page(str(exc), _safe_next(next), True, 503)
        response = RedirectResponse(url, status_code=303)
        pending = auth.signin_state({"state": state, "nonce": nonce, "verifier": verifier, "next": _safe_next(next)})
        response.set_cookie(LOGIN_COOKIE, pending, max_age=600, httponly=True, samesite="lax", path="/auth")
        return response

    @router.get("/auth/callback")
    def callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
        pending = auth.read_signin_state(request.cookies.get(LOGIN_COOKIE))
        if auth.oidc is None or pending is None or not secrets.compare_digest(pending.get("state", ""), state):
            return _page("The sign-in expired or did not start here; try again.", "/", auth.oidc is not None, 400)
        if error or not code:
            return _page(f"The provider did not sign you in ({error or 'no code'}).", pending["next"], True, 401)
        try:
            identity = auth.oidc.sign_in(base(request) + "/auth/callback", code, pending["verifier"], pending["nonce"])
        except TokenError as exc:
            return _page(str(exc), pending["next"], True, 401)
        except (ModelUnavailable, ConfigError, StoreUnavailable) as exc:
            return _page(str(exc), pending["next"], True, 503)
        return signed_in(request, identity, pending["next"])

    @router.get("/logout")
    @router.post("/logout")
    def logout(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        identity = auth.from_session(cookie)
        auth.end_session(cookie)  # on the server: the cookie, replayed, opens nothing
        if identity is not None:
            record("signout", identity, {"via": identity.via})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return router
