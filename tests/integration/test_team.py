"""A team deployment, attacked: two users in different groups, API keys, signed cookies, rate limits and the
audit trail, against the real app on loopback (OpenID Connect is in test_oidc.py)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from eval.bench.loopback import free_port, stop, wait_for_port
from tests.conftest import PYTHON, profile_env
from tests.integration.conftest import AppServer, start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"hr-staff": ["hr"], "it-staff": ["it"], "admins": ["*"]}
NO_LIMITS = {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}
VPN = "How do I reset my VPN password?"


@dataclass
class Team:
    app: AppServer
    keys: dict[str, str]  # user -> API key
    audit: Path

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"}

    def retrieve(self, user: str, query: str, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.app.url}/v1/retrieve", json={"query": query, **body}, headers=self.headers(user), timeout=120
        )

    def chat(self, user: str, messages: list[dict[str, str]] | str, **body: Any) -> httpx.Response:
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        return httpx.post(
            f"{self.app.url}/v1/chat/completions",
            json={"messages": messages, **body},
            headers=self.headers(user),
            timeout=120,
        )


def _keys(db: Path) -> dict[str, str]:
    from serving.access.keys import KeyStore

    store = KeyStore(db)
    members = {"alice": {"hr-staff"}, "bob": {"it-staff"}, "nobody": set(), "root": {"admins"}}
    return {user: store.create(user, frozenset(groups))[1] for user, groups in members.items()}


@pytest.fixture(scope="module")
def team(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    tmp = tmp_path_factory.mktemp("team")
    keys = _keys(tmp / "auth.sqlite")
    with start_app(
        kb_index,
        tmp,
        llm={"backend": "extractive"},
        auth={"keys_db": str(tmp / "auth.sqlite")},
        access={"groups": GROUPS},
        audit={"path": str(tmp / "audit.sqlite")},
        limits=NO_LIMITS,
    ) as app:
        yield Team(app, keys, tmp / "audit.sqlite")


def _collections(hits: list[dict[str, Any]]) -> set[str]:
    return {h["metadata"]["collection"] for h in hits}


def _cited_folders(data: dict[str, Any]) -> set[str]:
    return {Path(c["source"]).parent.name for c in data["citations"]}


def test_each_user_retrieves_only_from_their_own_collections(team: Team) -> None:
    alice = team.retrieve("alice", VPN, top_k=20).json()["hits"]
    bob = team.retrieve("bob", VPN, top_k=20).json()["hits"]
    root = team.retrieve("root", VPN, top_k=20).json()["hits"]
    assert alice and _collections(alice) == {"hr"}
    assert bob and _collections(bob) == {"it"}
    assert {"it", "hr"} <= _collections(root)  # the same question reaches both for someone allowed everything
    assert team.retrieve("nobody", VPN).json()["hits"] == []  # in no group: nothing at all


def test_a_filter_naming_another_collection_never_widens_the_scope(team: Team) -> None:
    for body in ({"filters": {"collections": ["it"]}}, {"filters": {"collections": ["hr", "it"]}}):
        r = team.retrieve("alice", VPN, **body)
        if r.status_code == 200:
            assert _collections(r.json()["hits"]) <= {"hr"}
        else:
            error = r.json()["error"]["message"]
            assert r.status_code == 400 and "(known: hr)" in error  # only alice's own collection is named
            assert "finance" not in error and "engineering" not in error
        chat = team.chat("alice", VPN, **body)
        assert chat.status_code in (200, 400)
        if chat.status_code == 200:
            assert _cited_folders(chat.json()) <= {"hr"}


def test_answers_and_follow_ups_cite_only_the_users_collections(team: Team) -> None:
    alice = team.chat("alice", VPN).json()
    bob = team.chat("bob", VPN).json()
    assert _cited_folders(alice) <= {"hr"} and _cited_folders(bob) == {"it"}
    # bob's answer comes from the VPN page; none of its text reaches alice
    secret = next(c["text"] for c in bob["citations"] if c["cited"])
    assert secret[:60] not in json.dumps(alice)
    history = [
        {"role": "user", "content": VPN},
        {"role": "assistant", "content": "Open the VPN portal and choose 'Forgot password' [1]."},
        {"role": "user", "content": "And after how many hours does the tunnel time out?"},
    ]
    follow_up = team.chat("alice", history).json()
    assert _cited_folders(follow_up) <= {"hr"}
    assert "12 hours" not in follow_up["choices"][0]["message"]["content"]  # the fact lives in bob's collection
    assert "12 hours" in team.chat("bob", history).json()["choices"][0]["message"]["content"]


def test_a_guessed_file_url_outside_the_users_collections_is_not_found(team: Team) -> None:
    bob_file = team.retrieve("bob", VPN).json()["hits"][0]["metadata"]["source"]
    url = f"{team.app.url}/v1/files"
    assert httpx.get(url, params={"source": bob_file}, headers=team.headers("bob")).status_code == 200
    refused = httpx.get(url, params={"source": bob_file}, headers=team.headers("alice"))
    assert refused.status_code in (403, 404) and "VPN" not in refused.text
    assert httpx.get(url, params={"source": bob_file}).status_code == 401


def test_without_a_valid_credential_nothing_is_served(team: Team) -> None:
    url = team.app.url
    for request in (
        lambda h: httpx.post(f"{url}/v1/retrieve", json={"query": VPN}, headers=h),
        lambda h: httpx.get(f"{url}/v1/models", headers=h),
        lambda h: httpx.get(f"{url}/gradio_api/info", headers=h),
    ):
        for headers in ({}, {"Authorization": "Bearer kb-0000-forged"}, {"Authorization": "Basic YWxpY2U6eA=="}):
            r = request(headers)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), (headers, r.text)
    page = httpx.get(f"{url}/", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    forged = httpx.get(f"{url}/", headers={"accept": "text/html", "cookie": "kb_session=eyJ1IjoiYWxpY2UifQ.x.y"})
    assert forged.status_code == 303
    assert httpx.get(f"{url}/v1/health").status_code == 200  # health stays open for load balancers


def test_signing_in_with_a_key_opens_the_page_and_its_source_links_but_not_posts_to_the_api(team: Team) -> None:
    with httpx.Client(base_url=team.app.url) as browser:
        wrong = browser.post("/login", data={"key": "kb-nope-nope", "next": "/"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
        signed_in = browser.post("/login", data={"key": team.keys["alice"], "next": "https://evil.example/"})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"  # no open redirect
        assert "httponly" in signed_in.headers["set-cookie"].lower()
        assert browser.get("/", headers={"accept": "text/html"}).status_code == 200
        own = team.retrieve("alice", "annual leave").json()["hits"][0]["metadata"]["source"]
        assert browser.get("/v1/files", params={"source": own}).status_code == 200  # the page's source links
        # a cookie alone cannot make the browser post to the API (another site could trigger that)
        assert browser.post("/v1/retrieve", json={"query": "leave"}).status_code == 401
        assert browser.get("/logout").status_code == 303
        browser.cookies.clear()
        assert browser.get("/v1/files", params={"source": own}).status_code == 401


def test_a_revoked_key_stops_working_at_once(team: Team, tmp_path: Path) -> None:
    env = {**os.environ, "KB_AUTH__KEYS_DB": str(team.audit.parent / "auth.sqlite")}
    created = subprocess.run(
        [PYTHON, "-m", "serving", "keys", "create", "carol", "--groups", "hr-staff,it-staff"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]  # the key alone on the last line
    headers = {"Authorization": f"Bearer {key}"}
    hits = httpx.post(f"{team.app.url}/v1/retrieve", json={"query": VPN, "top_k": 20}, headers=headers).json()["hits"]
    assert _collections(hits) == {"hr", "it"}  # two groups: both collections
    listed = subprocess.run(
        [PYTHON, "-m", "serving", "keys", "list"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert "carol" in listed.stdout and key.split("-", 2)[2] not in listed.stdout  # the secret is never shown again
    revoked = subprocess.run(
        [PYTHON, "-m", "serving", "keys", "revoke", "carol"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.post(f"{team.app.url}/v1/retrieve", json={"query": VPN}, headers=headers).status_code == 401


def test_every_answer_is_in_the_audit_trail_and_a_changed_record_is_reported(team: Team) -> None:
    team.chat("alice", "How many days of paid annual leave do full-time employees get?")
    env = {**os.environ, "KB_AUDIT__PATH": str(team.audit)}

    def serving(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "serving", "audit", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )

    export = serving("export", "--json", "--user", "alice")
    assert export.returncode == 0, export.stderr
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    leave = [r for r in rows if "annual leave" in r["question"]]
    assert leave and all(r["user"] == "alice" for r in rows)
    row = leave[-1]
    assert row["answer"] and row["mode"] == "extractive" and row["sources"]
    assert all("/hr/" in s["source"] for s in row["sources"]) and "timings_ms" in row
    assert serving("export", "--json", "--since", "2999-01-01").stdout == ""
    check = serving("check")
    assert check.returncode == 0 and "ok" in check.stdout.lower(), check.stdout + check.stderr
    with sqlite3.connect(team.audit) as db:  # someone edits what alice was told
        body = json.loads(db.execute("SELECT body FROM records WHERE seq = ?", (row["seq"],)).fetchone()[0])
        body["answer"] = "Employees get 40 days."
        db.execute("UPDATE records SET body = ? WHERE seq = ?", (json.dumps(body, sort_keys=True), row["seq"]))
    tampered = serving("check")
    assert tampered.returncode == 1 and f"record {row['seq']}" in tampered.stdout + tampered.stderr


def test_a_burst_over_the_rate_limit_gets_429_while_others_are_served(kb_index: Path, tmp_path: Path) -> None:
    keys = _keys(tmp_path / "auth.sqlite")
    limits = {"requests_per_minute": 5, "answers_per_day": 0, "concurrent_answers": 0}
    with start_app(
        kb_index,
        tmp_path,
        llm={"backend": "extractive"},
        auth={"keys_db": str(tmp_path / "auth.sqlite")},
        access={"groups": GROUPS},
        limits=limits,
    ) as app:
        alice = {"Authorization": f"Bearer {keys['alice']}"}
        codes = [httpx.get(f"{app.url}/v1/models", headers=alice) for _ in range(8)]
        assert [r.status_code for r in codes[:5]] == [200] * 5
        refused = codes[-1]
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["type"] == "rate_limit_error"
        bob = httpx.get(f"{app.url}/v1/models", headers={"Authorization": f"Bearer {keys['bob']}"})
        assert bob.status_code == 200


def _profile(tmp_path: Path, **sections: Any) -> Path:
    """A profile file as an operator writes one (KB_PROFILE=path), with the state in tmp_path."""
    data = {
        "auth": {"keys_db": str(tmp_path / "auth.sqlite")},
        "access": {"groups": GROUPS},
        "audit": {"path": str(tmp_path / "audit.sqlite")},
        "serving": {"feedback_db": str(tmp_path / "feedback.sqlite"), "uploads_dir": str(tmp_path / "uploads")},
        "storage": {"conversations_db": str(tmp_path / "conversations.sqlite")},
        "llm": {"backend": "extractive"},
        **sections,
    }
    path = tmp_path / "team.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_personal_data_in_a_question_never_reaches_the_audit_trail_or_the_log(kb_index: Path, tmp_path: Path) -> None:
    keys = _keys(tmp_path / "auth.sqlite")
    env = profile_env(_profile(tmp_path))
    port, log = free_port(), tmp_path / "server.log"
    pii = ["Maria Gonzalez", "maria.gonzalez@northwind.example", "+44 20 7946 0958", "4111 1111 1111 1111"]
    question = f"I am {pii[0]} ({pii[1]}, phone {pii[2]}, card {pii[3]}): how many days of paid annual leave do I get?"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "serving", "--index", str(kb_index), "--port", str(port), "-v"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, proc, timeout=180)
            url, alice = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {keys['alice']}"}
            answer = httpx.post(
                f"{url}/v1/chat/completions",
                json={"messages": [{"role": "user", "content": question}]},
                headers=alice,
                timeout=180,
            )
            assert answer.status_code == 200 and "25 days" in answer.json()["choices"][0]["message"]["content"]
            # a URL carries personal data into the access log unless it is redacted there
            files = httpx.get(f"{url}/v1/files", params={"source": f"/home/{pii[1]}/notes.txt"}, headers=alice)
            assert files.status_code == 404
        finally:
            stop(proc)
    text = log.read_text()
    access = [line for line in text.splitlines() if 'notes.txt HTTP/1.1" 404' in line]
    assert access and "<EMAIL_ADDRESS>" in access[0]  # the request was logged, its personal data redacted
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("audit.sqlite*"))
    for value in pii:
        assert value not in text, value
        assert value.encode() not in stored, value
        assert value.replace(" ", "").encode() not in stored, value
    export = subprocess.run(
        [PYTHON, "-m", "serving", "audit", "export", "--json"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    row = json.loads(export.stdout.splitlines()[-1])
    assert row["user"] == "alice" and "annual leave" in row["question"]
    for placeholder in ("<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<CREDIT_CARD>"):
        assert placeholder in row["question"], row["question"]


def test_listening_beyond_loopback_without_authentication_is_refused(kb_index: Path, tmp_path: Path) -> None:
    env = profile_env(_profile(tmp_path))
    command = [PYTHON, "-m", "serving", "--index", str(kb_index), "--host", "0.0.0.0", "--port", str(free_port())]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert refused.returncode == 1
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("error: refusing to listen on 0.0.0.0") and "keys create" in message


# --- page sessions live on the server: sign-out, key revocation and `sessions revoke` end them ---------------


def _page_session(team: Team, user: str) -> tuple[str, str]:
    """A new key for the user, signed in with on the page: (the key, the session cookie's value)."""
    from serving.access.keys import KeyStore

    _, key = KeyStore(team.audit.parent / "auth.sqlite").create(user, frozenset({"hr-staff"}))
    signed_in = httpx.post(f"{team.app.url}/login", data={"key": key, "next": "/"})
    assert signed_in.status_code == 303, signed_in.text
    return key, signed_in.cookies["kb_session"]


def _page_opens(team: Team, cookie: str) -> bool:
    page = httpx.get(f"{team.app.url}/", headers={"accept": "text/html", "cookie": f"kb_session={cookie}"})
    assert page.status_code in (200, 303), page.text
    return page.status_code == 200


def _serving(team: Team, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_AUTH__KEYS_DB": str(team.audit.parent / "auth.sqlite"), "KB_AUDIT__PATH": str(team.audit)}
    return subprocess.run(
        [PYTHON, "-m", "serving", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_a_cookie_replayed_after_signing_out_is_refused(team: Team) -> None:
    _, cookie = _page_session(team, "dana")
    assert _page_opens(team, cookie)
    signed_out = httpx.get(f"{team.app.url}/logout", headers={"cookie": f"kb_session={cookie}"})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert not _page_opens(team, cookie)  # a copy of the cookie (another tab, a stolen one) is worthless now
    files = httpx.get(f"{team.app.url}/v1/files", params={"source": "x"}, headers={"cookie": f"kb_session={cookie}"})
    assert files.status_code == 401


def test_revoking_a_users_keys_ends_their_open_page_sessions(team: Team) -> None:
    _, cookie = _page_session(team, "dave")
    _, other = _page_session(team, "erin")
    assert _page_opens(team, cookie)
    revoked = _serving(team, "keys", "revoke", "dave")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith("revoked key ") and revoked.stdout.strip().endswith(" of dave")  # as before
    assert not _page_opens(team, cookie)
    assert _page_opens(team, other)  # nobody else is signed out


def test_an_admin_ends_a_users_page_sessions_and_their_key_keeps_working(team: Team) -> None:
    key, cookie = _page_session(team, "fred")
    listed = _serving(team, "sessions", "list")
    assert listed.returncode == 0 and "fred" in listed.stdout and cookie not in listed.stdout, listed.stderr
    ended = _serving(team, "sessions", "revoke", "fred")
    assert ended.returncode == 0 and "ended 1 session of fred" in ended.stdout, ended.stdout + ended.stderr
    assert not _page_opens(team, cookie)
    models = httpx.get(f"{team.app.url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert models.status_code == 200  # the key itself was not revoked: signing in again works
    again = _serving(team, "sessions", "revoke", "fred")
    assert again.returncode == 1 and again.stderr.startswith("error: no open session of 'fred'")
