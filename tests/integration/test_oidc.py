"""OpenID Connect against a real provider: node's certified `oidc-provider` on loopback (tests/oidc/provider.mjs,
installed by `make oidc-provider`, which `make test` runs). The page's sign-in is driven in headless Chromium;
bearer tokens are minted with the provider's own signing key and with forged ones."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PYTHON, free_port, make_settings
from tests.integration.conftest import AppServer
from tests.integration.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
NODE = shutil.which("node")
CLIENT_ID, CLIENT_SECRET = "kb-assistant", "test-client-secret"
ACCOUNTS = {
    "alice": {"email": "alice@northwind.example", "name": "Alice", "groups": ["hr-staff"]},
    "bob": {"email": "bob@northwind.example", "name": "Bob", "groups": ["it-staff"]},
    # no username; eve typed someone else's address and the provider never verified it
    "eve": {"email": "alice@northwind.example", "email_verified": False, "preferred_username": None, "groups": []},
    "carol": {"email": "carol@northwind.example", "email_verified": True, "preferred_username": None, "groups": []},
}
needs_provider = pytest.mark.skipif(
    NODE is None or not (PROVIDER.parent / "node_modules" / "oidc-provider").is_dir(),
    reason="the test OpenID provider is not installed: run `make oidc-provider` (make test does)",
)


def _rsa(kid: str) -> Any:
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class Deployment:
    app: AppServer
    issuer: str
    key: Any  # the provider's signing key
    state: Path  # the keys database and the audit trail are here

    def token(self, key: Any = None, alg: str = "RS256", **overrides: Any) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "alice",
            "preferred_username": "alice",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "groups": ["hr-staff"],
            **overrides,
        }
        signer = key or self.key
        return jwt.encode({"alg": alg, "kid": signer.kid}, claims, signer)

    def retrieve(self, token: str) -> httpx.Response:
        return httpx.post(
            f"{self.app.url}/v1/retrieve",
            json={"query": "How do I reset my VPN password?", "top_k": 20},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def deployment(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from serving.app import build_app

    tmp = tmp_path_factory.mktemp("oidc")
    provider_port = free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    settings = make_settings(
        kb_index,
        llm={"backend": "extractive"},
        auth={
            "keys_db": str(tmp / "auth.sqlite"),
            "oidc_issuer": issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "session_secret": "s" * 32,
        },
        access={"groups": {"hr-staff": ["hr"], "it-staff": ["it"]}},
        audit={"path": str(tmp / "audit.sqlite")},
        serving={"feedback_db": str(tmp / "feedback.sqlite")},
        limits={"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0},
    )
    app = AppServer(build_app(settings, kb_index))
    key = _rsa("provider-key-1")
    env = {
        **os.environ,
        "OIDC_PORT": str(provider_port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": f"{app.url}/auth/callback",
        "OIDC_JWK": json.dumps(key.as_dict(private=True)),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
    }
    proc = subprocess.Popen(
        [str(NODE), str(PROVIDER)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("ready"):
            raise RuntimeError(f"the OpenID provider did not start: {line} {proc.stderr.read() if proc.stderr else ''}")
        with app:
            yield Deployment(app, issuer, key, tmp)
    finally:
        proc.terminate()
        proc.wait(10)


@needs_provider
def test_a_token_signed_by_the_provider_is_accepted_with_its_groups(deployment: Deployment) -> None:
    r = deployment.retrieve(deployment.token())
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and {h["metadata"]["collection"] for h in hits} == {"hr"}
    bob = deployment.retrieve(deployment.token(sub="bob", preferred_username="bob", groups=["it-staff"]))
    assert {h["metadata"]["collection"] for h in bob.json()["hits"]} == {"it"}


def _none_alg(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@needs_provider
def test_expired_foreign_misaddressed_and_unsigned_tokens_are_refused(deployment: Deployment) -> None:
    from joserfc.jwk import OctKey

    now = int(time.time())
    impostor = _rsa("provider-key-1")  # same key id, another key
    refused = {
        "expired": deployment.token(exp=now - 120, iat=now - 600),
        "another key": deployment.token(key=impostor),
        "another audience": deployment.token(aud="some-other-app"),
        "another issuer": deployment.token(iss="http://127.0.0.1:1/"),
        "alg none": _none_alg({"iss": deployment.issuer, "aud": CLIENT_ID, "sub": "alice", "exp": now + 300}),
        "shared secret": deployment.token(key=OctKey.import_key(CLIENT_SECRET.encode() * 2, {"kid": "k"}), alg="HS256"),
        "garbage": "not.a.token",
    }
    for why, token in refused.items():
        r = deployment.retrieve(token)
        assert r.status_code == 401, (why, r.text)
        assert r.json()["error"]["type"] == "authentication_error"
    assert "expired" in deployment.retrieve(refused["expired"]).json()["error"]["message"]


@needs_provider
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed: run `make browser` (make test does)")
def test_signing_in_on_the_page_shows_only_the_users_sources(deployment: Deployment, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(deployment.app.url + "/", wait_until="load")
        assert "/login" in page.url  # not signed in: the sign-in page, not the assistant
        page.locator("#kb-oidc").click()
        # the provider's own sign-in and consent pages
        page.locator("input[name=login]").wait_for(timeout=30_000)
        assert page.url.startswith(deployment.issuer)
        page.locator("input[name=login]").fill("bob")
        page.locator("input[name=password]").fill("any password")
        page.locator("button[type=submit]").click()
        consent = page.locator("button[type=submit]")
        consent.wait_for(timeout=30_000)
        if deployment.issuer in page.url:  # the consent step
            consent.click()
        page.locator("#kb-question textarea").wait_for(timeout=60_000)
        assert page.url.startswith(deployment.app.url)
        expect(page.locator("#kb-status")).to_contain_text("signed in as", timeout=30_000)
        assert "bob" in page.locator("#kb-status").inner_text()
        page.locator("#kb-question textarea").fill("How do I reset my VPN password?")
        page.locator("#kb-ask").click()
        page.locator("#kb-sources .kb-source").first.wait_for(timeout=120_000)
        links = [a.get_attribute("href") or "" for a in page.locator("#kb-sources a").all()]
        assert links and all("/docs/it/" in link for link in links), links  # only bob's collection
        opened = page.request.get(deployment.app.url + links[0])  # the source link works with the session cookie
        assert opened.status == 200
        # hr's leave policy exists, but not for bob: no source, no answer from it
        page.locator("#kb-question textarea").fill("How many days of paid annual leave do employees get?")
        page.locator("#kb-ask").click()
        expect(page.locator("#kb-chat")).to_contain_text("annual leave", timeout=60_000)
        bot = page.locator("#kb-chat .bot, #kb-chat [data-testid='bot']").nth(1)
        bot.wait_for(timeout=120_000)
        expect(bot).not_to_be_empty(timeout=60_000)
        page.wait_for_timeout(1000)
        assert "leave-policy" not in page.locator("#kb-sources").inner_text()
        assert "25 days" not in bot.inner_text()
        choices = page.locator("#kb-collections")
        choices.click()
        assert "hr" not in [o.strip() for o in page.locator("[role=option]").all_inner_texts()]
        page.screenshot(path=str(tmp_path / "oidc.png"), full_page=True)
        browser.close()


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The provider's sign-in or consent form: where it posts, and its hidden fields."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html[:2000]
    return action.group(1), dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def _sign_in(deployment: Deployment, login: str) -> str:
    """Signs in on the page through the provider (its own sign-in and consent forms, as a browser posts them);
    returns the page's session cookie."""
    app = deployment.app.url
    with httpx.Client(follow_redirects=True, timeout=60) as browser:
        page = browser.get(f"{app}/login/oidc", params={"next": "/"})
        for _ in range(4):  # the sign-in form, then the consent form
            if str(page.url).startswith(app):
                break
            action, fields = _form(page.text)
            if 'name="login"' in page.text:
                fields |= {"login": login, "password": "any password"}
            page = browser.post(httpx.URL(str(page.url)).join(action), data=fields)
        assert str(page.url).startswith(app) and page.status_code == 200, (page.url, page.text[:500])
        return str(browser.cookies["kb_session"])


def _page_opens(deployment: Deployment, cookie: str) -> bool:
    page = httpx.get(f"{deployment.app.url}/", headers={"accept": "text/html", "cookie": f"kb_session={cookie}"})
    assert page.status_code in (200, 303), page.text
    return page.status_code == 200


def _sessions(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KB_AUTH__KEYS_DB": str(deployment.state / "auth.sqlite"),
        "KB_AUDIT__PATH": str(deployment.state / "audit.sqlite"),
    }
    return subprocess.run(
        [PYTHON, "-m", "serving", "sessions", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def _listed(deployment: Deployment) -> dict[str, str]:
    """`sessions list` as {shown name: user id} (the last session of each)."""
    listed = _sessions(deployment, "list")
    assert listed.returncode == 0, listed.stderr
    return {line.split()[1]: line.split()[0] for line in listed.stdout.splitlines()}


@needs_provider
def test_a_provider_user_named_like_a_key_user_does_not_see_that_users_conversations(deployment: Deployment) -> None:
    from serving.access.keys import KeyStore

    _, key = KeyStore(deployment.state / "auth.sqlite").create("alice", frozenset({"hr-staff"}))
    url = f"{deployment.app.url}/v1/conversations"
    created = httpx.post(url, json={"metadata": {"title": "my appraisal"}}, headers={"Authorization": f"Bearer {key}"})
    assert created.status_code == 200, created.text
    conversation = created.json()["id"]
    assert httpx.get(f"{url}/{conversation}", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # another person at the provider, who chose the username "alice" (or whose e-mail says alice, unverified)
    for claims in (
        {"sub": "mallory-1", "preferred_username": "alice"},
        {"sub": "mallory-2", "preferred_username": None, "email": "alice", "email_verified": False},
    ):
        impostor = {"Authorization": f"Bearer {deployment.token(**claims)}"}
        for path in (f"{url}/{conversation}", f"{url}/{conversation}/items"):
            r = httpx.get(path, headers=impostor)
            assert r.status_code == 404 and "appraisal" not in r.text, (claims, r.text)
    # and the provider's own alice is not the key's alice either: each sees only their own
    own = {"Authorization": f"Bearer {deployment.token()}"}
    theirs = httpx.post(url, json={"metadata": {"title": "oidc"}}, headers=own)
    assert theirs.status_code == 200, theirs.text
    mine = httpx.get(f"{url}/{theirs.json()['id']}", headers={"Authorization": f"Bearer {key}"})
    assert mine.status_code == 404


@needs_provider
def test_an_unverified_e_mail_never_names_a_provider_user(deployment: Deployment) -> None:
    eve, carol = _sign_in(deployment, "eve"), _sign_in(deployment, "carol")
    assert _page_opens(deployment, eve) and _page_opens(deployment, carol)
    names = _listed(deployment)
    assert "alice@northwind.example" not in names  # eve's unverified address is not who she is
    assert names["carol@northwind.example"].startswith("oidc:")  # a verified one names carol (never keys her)
    assert any(user.startswith("oidc:") and user.endswith(":eve") for name, user in names.items() if name == "-")


@needs_provider
def test_an_admin_ends_a_provider_users_page_sessions(deployment: Deployment) -> None:
    cookie = _sign_in(deployment, "bob")
    assert _page_opens(deployment, cookie)
    bob = _listed(deployment)["bob"]
    assert bob.startswith("oidc:") and bob != "bob"
    ended = _sessions(deployment, "revoke", bob)
    assert ended.returncode == 0 and re.search(rf"ended \d+ sessions? of {bob}", ended.stdout), ended.stderr
    assert not _page_opens(deployment, cookie)  # the cookie is still signed and unexpired: refused all the same
    again = _sign_in(deployment, "bob")  # the provider still lets bob in: a new session, the old one stays ended
    assert _page_opens(deployment, again) and not _page_opens(deployment, cookie)
    signed_out = httpx.get(f"{deployment.app.url}/logout", headers={"cookie": f"kb_session={again}"})
    assert signed_out.status_code == 303 and not _page_opens(deployment, again)


def _mcp(url: str, token: str | None) -> httpx.Response:
    """A tools/call of `search` in the stateless MCP revision (2026-07-28): one self-contained POST."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    }
    params = {"name": "search", "arguments": {"query": "How do I reset my VPN password?", "top_k": 20}, "_meta": meta}
    headers = {
        "Accept": "application/json, text/event-stream",
        "Mcp-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "search",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    return httpx.post(f"{url}/mcp", json=body, headers=headers, timeout=60)


@needs_provider
def test_mcp_takes_the_providers_tokens_and_tells_clients_where_to_get_one(deployment: Deployment) -> None:
    url = deployment.app.url
    r = _mcp(url, deployment.token())  # alice, hr-staff
    assert r.status_code == 200, r.text
    lines = [x[5:] for x in r.text.splitlines() if x.startswith("data:")] or [r.text]
    text = json.loads(lines[-1])["result"]["content"][0]["text"]
    assert "/hr/" in text and "/it/" not in text
    for token in (None, deployment.token(key=_rsa("provider-key-1")), deployment.token(exp=int(time.time()) - 60)):
        refused = _mcp(url, token)
        assert refused.status_code == 401 and "content" not in refused.text
        # RFC 9728 / the MCP authorization spec: the challenge names the protected-resource metadata ...
        challenge = refused.headers["www-authenticate"]
        assert 'resource_metadata="' in challenge and challenge.endswith('/.well-known/oauth-protected-resource/mcp"')
    # ... which anyone may read, and which names the provider as the authorization server
    metadata = httpx.get(f"{url}/.well-known/oauth-protected-resource/mcp", timeout=30)
    assert metadata.status_code == 200, metadata.text
    assert [s.rstrip("/") for s in metadata.json()["authorization_servers"]] == [deployment.issuer]
    assert metadata.json()["resource"].endswith("/mcp")
