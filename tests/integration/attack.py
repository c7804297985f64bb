"""What the security tests share: a keyed team deployment (hr users read and upload collection hr, it users read
it, admins read everything), signing in, the bad credentials an attacker holds, and the API's operations read from
its own OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import AppServer, start_app

GROUPS = {"hr-staff": ["hr"], "it-staff": ["it"], "admins": ["*"]}
UPLOAD = {"hr-staff": ["hr"]}
MEMBERS = {"alice": {"hr-staff"}, "bob": {"it-staff"}, "root": {"admins"}, "gone": {"hr-staff", "it-staff"}}
NO_LIMITS = {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}
# Text of the sample knowledge base that must never reach someone refused.
SECRETS = ("VPN", "annual leave", "password", "reimburse")


@dataclass
class Team:
    """The running app with its keys (user -> key), signed-in cookies and where its state lives."""

    app: AppServer
    keys: dict[str, str]
    state: Path

    @property
    def url(self) -> str:
        return self.app.url

    @property
    def keys_db(self) -> Path:
        return self.state / "auth.sqlite"

    @property
    def uploads(self) -> Path:
        return self.state / "uploads"

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"}


def create_keys(db: Path, members: dict[str, set[str]] = MEMBERS) -> dict[str, str]:
    from serving.access.keys import KeyStore

    store = KeyStore(db)
    return {user: store.create(user, frozenset(groups))[1] for user, groups in members.items()}


def revoke(db: Path, user: str) -> None:
    from serving.access.keys import KeyStore

    assert KeyStore(db).revoke(user), f"no active key of {user} to revoke"


def start_team(index: Path, state: Path, **sections: Any) -> AppServer:
    """The team deployment on the index, its databases and uploads under `state` (keys created beforehand)."""
    serving = {"uploads_dir": str(state / "uploads"), **sections.pop("serving", {})}
    return start_app(
        index,
        state,
        llm={"backend": "extractive"},
        auth={"keys_db": str(state / "auth.sqlite"), **sections.pop("auth", {})},
        access={"groups": GROUPS, "upload": UPLOAD},
        audit={"path": str(state / "audit.sqlite")},
        storage={"conversations_db": str(state / "conversations.sqlite")},
        limits=sections.pop("limits", NO_LIMITS),
        serving=serving,
        **sections,
    )


def sign_in(url: str, key: str) -> dict[str, str]:
    """Signs in on the page with a key, as a browser does; returns the session cookie."""
    with httpx.Client(base_url=url) as browser:
        r = browser.post("/login", data={"key": key, "next": "/"})
        assert r.status_code == 303, r.text
        return dict(browser.cookies)


def tampered(cookies: dict[str, str]) -> dict[str, str]:
    """The same cookie with the first character of its signature changed (not the last: in base64 its low bits
    may be padding, and the changed cookie would still be valid)."""
    name, value = next(iter(cookies.items()))
    payload, _, signature = value.rpartition(".")
    first = "A" if signature[0] != "A" else "B"
    return {name: f"{payload}.{first}{signature[1:]}"}


def bad_credentials(team: Team, revoked_cookie: dict[str, str], good_cookie: dict[str, str]) -> dict[str, Any]:
    """What an outsider may hold: (headers, cookies) by name."""
    return {
        "nothing": ({}, {}),
        "revoked key": (team.headers("gone"), {}),
        "forged key": ({"Authorization": "Bearer kb-00000000-" + "A" * 43}, {}),
        "basic auth": ({"Authorization": "Basic YWxpY2U6YWxpY2U="}, {}),
        "forged cookie": ({}, {"kb_session": "eyJ1IjoiYWxpY2UiLCJnIjpbImFkbWlucyJdfQ.ZZZZZZ.forgedsignature"}),
        "tampered cookie": ({}, tampered(good_cookie)),
        "revoked key's session": ({}, revoked_cookie),
    }


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with its path parameters filled in
    params: dict[str, str]
    body: dict[str, Any] | None


def operations(spec: dict[str, Any], source: str = "/nonexistent.md") -> Iterator[Operation]:
    """Every operation of the OpenAPI document, with its path parameters filled in and a plausible body, so that
    a refusal comes from authentication and not from validation."""
    body = {"query": "VPN", "model": "kb-assistant", "input": "VPN", "documents": ["VPN"]}
    body["messages"] = [{"role": "user", "content": "How do I reset my VPN password?"}]
    for template, methods in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "x", template)
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = {
                p["name"]: source if p["name"] == "source" else "1"
                for p in op.get("parameters", [])
                if p.get("in") == "query" and p.get("required")
            }
            yield Operation(method.upper(), path, params, body if "requestBody" in op else None)


def send(url: str, op: Operation, headers: dict[str, str], cookies: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
        return client.request(op.method, op.path, params=op.params, json=op.body, headers=headers)


def refused(r: httpx.Response) -> bool:
    """A refusal that carries no data: 401/403 with an error body, or a redirect to the sign-in page."""
    if r.status_code == 303:
        return r.headers.get("location", "").startswith("/login")
    if r.status_code not in (401, 403):
        return False
    return not any(s in r.text for s in SECRETS)
