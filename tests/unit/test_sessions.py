"""Page sessions kept on the server (signed out, expired and revoked sessions are refused) and OpenID Connect users
named by issuer and subject, never by a name they can choose."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from configs.errors import ConfigError
from configs.settings import AuthSettings
from serving.access.auth import Authenticator
from serving.access.identity import Identity
from serving.access.keys import KeyStore
from serving.access.oidc import OidcProvider, TokenError

ISSUER = "https://id.example.com/realms/team"
HOUR = 3600.0


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "auth.sqlite")


def _auth(store: KeyStore) -> Authenticator:
    return Authenticator(AuthSettings(session_secret="s" * 32, keys_db=store.path), store, None)


def test_a_session_is_found_by_its_id_whose_hash_alone_is_stored(store: KeyStore) -> None:
    record, _ = store.create("alice", frozenset({"hr"}))
    alice = Identity("alice", frozenset({"hr"}), "key", record.id)
    session = store.sessions.open(alice, HOUR)
    assert store.sessions.find(session) == alice
    assert store.sessions.find(session[:-1] + ("A" if session[-1] != "A" else "B")) is None
    with sqlite3.connect(store.path) as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM sessions") for v in row)
    assert session not in stored  # a copy of the database opens no session
    store.sessions.end(session)
    assert store.sessions.find(session) is None


def test_a_session_expires_on_the_server(store: KeyStore) -> None:
    bob = Identity("oidc:abc:bob", frozenset(), "oidc", name="bob")
    session = store.sessions.open(bob, HOUR)
    with sqlite3.connect(store.path) as db:  # the hour has passed (no waiting in tests)
        db.execute("UPDATE sessions SET expires = expires - 2 * ?", (HOUR,))
    assert store.sessions.find(session) is None and store.sessions.records() == []


def test_revoking_a_key_or_a_user_ends_their_sessions_and_no_one_elses(store: KeyStore) -> None:
    alice_key, _ = store.create("alice", frozenset({"hr"}))
    bob_key, _ = store.create("bob", frozenset({"it"}))
    alice = store.sessions.open(Identity("alice", frozenset({"hr"}), "key", alice_key.id), HOUR)
    bob = store.sessions.open(Identity("bob", frozenset({"it"}), "key", bob_key.id), HOUR)
    carol = Identity("oidc:abc:c-123", frozenset({"hr"}), "oidc", name="carol")
    carol_sessions = [store.sessions.open(carol, HOUR) for _ in range(2)]
    store.revoke("alice")
    assert store.sessions.find(alice) is None and store.sessions.find(bob) is not None
    ended = store.sessions.end_user("carol")  # by the name shown, or by the user id
    assert [s.user for s in ended] == [carol.user] * 2
    assert all(store.sessions.find(s) is None for s in carol_sessions) and store.sessions.find(bob) is not None
    assert store.sessions.end_user("carol") == []


def test_a_session_opened_with_a_key_revoked_behind_the_tables_back_is_refused(store: KeyStore) -> None:
    record, _ = store.create("alice", frozenset({"hr"}))
    session = store.sessions.open(Identity("alice", frozenset({"hr"}), "key", record.id), HOUR)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE keys SET revoked = 1")
    assert store.sessions.find(session) is None


def test_the_cookie_is_signed_and_names_a_session_that_sign_out_ends(store: KeyStore) -> None:
    record, _ = store.create("alice", frozenset({"hr"}))
    auth = _auth(store)
    alice = Identity("alice", frozenset({"hr"}), "key", record.id)
    cookie = auth.session_cookie(alice)
    assert auth.from_session(cookie) == alice and "alice" not in cookie
    assert auth.from_session(cookie[:-2] + "xx") is None  # tampered with
    other = Authenticator(AuthSettings(session_secret="t" * 32, keys_db=store.path), store, None)
    assert other.from_session(cookie) is None  # signed with another secret
    auth.end_session(cookie)
    assert auth.from_session(cookie) is None  # replayed after sign-out


def test_key_users_cannot_be_named_like_provider_users(store: KeyStore) -> None:
    with pytest.raises(ConfigError, match="oidc:"):
        store.create("oidc:1a2b3c4d:alice", frozenset({"admins"}))


def _provider(**settings: object) -> OidcProvider:
    return OidcProvider(AuthSettings(oidc_issuer=ISSUER, oidc_client_id="kb", **settings))  # type: ignore[arg-type]


def test_a_provider_user_is_keyed_by_issuer_and_subject_and_shown_by_their_username() -> None:
    alice = _provider().identity({"sub": "f81d4fae", "preferred_username": "alice", "groups": ["/hr-staff"]})
    assert alice.user.startswith("oidc:") and alice.user.endswith(":f81d4fae") and alice.user != "alice"
    assert alice.display == "alice" and alice.groups == frozenset({"hr-staff"}) and alice.via == "oidc"
    renamed = _provider().identity({"sub": "f81d4fae", "preferred_username": "alice.smith"})
    assert renamed.user == alice.user  # a new username is still the same person
    elsewhere = OidcProvider(AuthSettings(oidc_issuer="https://other.example", oidc_client_id="kb"))
    assert elsewhere.identity({"sub": "f81d4fae"}).user != alice.user  # the same sub at another provider
    with pytest.raises(TokenError, match="sub"):
        _provider().identity({"preferred_username": "alice"})


def test_an_e_mail_names_a_provider_user_only_once_verified() -> None:
    claims = {"sub": "u-1", "email": "root@northwind.example"}
    assert _provider().identity(claims).display == _provider().identity(claims).user  # unverified: not shown
    assert _provider().identity({**claims, "email_verified": False}).name is None
    assert _provider().identity({**claims, "email_verified": True}).display == "root@northwind.example"
    by_email = _provider(oidc_user_claim="email")
    assert by_email.identity(claims).name is None
    assert by_email.identity({**claims, "preferred_username": "root"}).name is None  # the claim asked for is email


def test_a_chosen_username_cannot_draw_markdown_on_the_page() -> None:
    shown = _provider().identity({"sub": "u-2", "preferred_username": "[admin](https://evil.example)\n**x**"}).display
    assert "[" not in shown and "(" not in shown and "*" not in shown and "\n" not in shown
