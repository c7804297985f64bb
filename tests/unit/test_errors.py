"""The one table from an error family to its HTTP status and body, driven through FastAPI in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from configs.errors import (
    AccessDenied,
    ConfigError,
    InvalidRequest,
    KBError,
    ModelUnavailable,
    NotFound,
    StoreUnavailable,
)
from serving.store.conversations import ConversationStore
from serving.web.errors import install_error_handlers


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequest("the question is empty; type a question"), 400, "invalid_request_error"),
        (AccessDenied("you may not read collection 'hr'"), 403, "permission_error"),
        (NotFound("no conversation 'conv_1'"), 404, "not_found"),
        (ModelUnavailable("the LLM at http://127.0.0.1:1 is not answering"), 503, "model_unavailable"),
        (StoreUnavailable("cannot open the conversation store"), 503, "store_unavailable"),
        (ConfigError("retrieval.rerank_url is not set"), 500, "server_error"),
    ],
)
def test_each_error_family_has_its_status_and_an_openai_shaped_body(error: KBError, status: int, kind: str) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/boom")
    def boom() -> None:
        raise error

    got = TestClient(app).get("/v1/boom")
    assert got.status_code == status and got.headers["content-type"] == "application/json"
    # Byte for byte: clients parse these bodies (compact JSON, no "param", as OpenAI's SDKs read them).
    assert got.content == b'{"error":{"message":"%s","type":"%s","code":null}}' % (str(error).encode(), kind.encode())


def test_a_store_that_cannot_be_reached_is_unavailable_not_a_configuration_error(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "unused.sqlite", url="postgresql://kb@127.0.0.1:1/kb?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match="cannot open the conversation store"):
        store.create("alice", None, [])
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    with pytest.raises(StoreUnavailable, match="cannot open the conversation store"):
        ConversationStore(blocked / "c.sqlite").create("alice", None, [])


def test_over_a_rate_limit_is_429_with_retry_after_in_the_same_shape() -> None:
    from serving.access.quotas import OverLimit

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/busy")
    def busy() -> None:
        raise OverLimit("over 30 requests a minute; wait 12 s", 12)

    got = TestClient(app).get("/v1/busy")
    assert got.status_code == 429 and got.headers["retry-after"] == "12"
    assert got.content == (b'{"error":{"message":"over 30 requests a minute; wait 12 s","type":"rate_limit_error",'
                           b'"code":null}}')  # fmt: skip


def test_rate_limits_count_per_user_or_without_sign_in_per_client_address() -> None:
    from serving.access.identity import LOCAL, Identity

    assert Identity("alice", frozenset({"hr"}), "key").limit_key_from("10.0.0.7") == "user:alice"
    assert LOCAL.limit_key_from("10.0.0.7") == "ip:10.0.0.7" and LOCAL.limit_key_from(None) == "ip:unknown"


def test_the_gate_answers_a_key_store_outage_with_503_in_the_api_shape(tmp_path: Path) -> None:
    from configs.settings import AuthSettings
    from serving.access.auth import Authenticator, AuthGate
    from serving.access.keys import KeyStore

    keys = KeyStore(tmp_path / "auth.sqlite")
    _, secret = keys.create("alice", frozenset({"hr"}))
    (tmp_path / "auth.sqlite").unlink()
    (tmp_path / "auth.sqlite").mkdir()  # the store's file is gone and cannot be made again: every lookup fails
    app = FastAPI()
    app.add_middleware(AuthGate, authenticator=Authenticator(AuthSettings(required=True), keys, None))

    @app.get("/v1/models")
    def models() -> dict[str, str]:
        return {"object": "list"}

    got = TestClient(app).get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert got.status_code == 503 and "cannot open the key store" in got.json()["error"]["message"]
    message = got.json()["error"]["message"].encode()
    assert got.content == b'{"error": {"message": "%s", "type": "api_error", "param": null, "code": null}}' % message
    assert got.headers["content-type"] == "application/json" and "www-authenticate" not in got.headers


def test_the_gate_refuses_without_a_valid_credential_with_401_byte_for_byte(tmp_path: Path) -> None:
    """The gate answers before any route (and so before the error handlers): the same bodies as ever, with the
    challenge header that tells a client to authenticate."""
    from configs.settings import AuthSettings
    from serving.access.auth import Authenticator, AuthGate
    from serving.access.keys import KeyStore

    app = FastAPI()
    keys = KeyStore(tmp_path / "auth.sqlite")
    app.add_middleware(AuthGate, authenticator=Authenticator(AuthSettings(required=True), keys, None))
    client = TestClient(app)
    refusals = {
        None: b"sign in, or send 'Authorization: Bearer <key>' (python -m serving keys)",
        "Bearer kb-revoked": b"the API key is unknown or revoked; create one with `python -m serving keys create`",
        "Basic YTpi": b"send the key or token as 'Authorization: Bearer <key>'",
    }
    for header, message in refusals.items():
        got = client.get("/v1/models", headers={"Authorization": header} if header else {})
        assert got.status_code == 401 and got.headers["www-authenticate"] == 'Bearer realm="kb-assistant"'
        assert got.headers["content-type"] == "application/json"
        body = b'{"error": {"message": "%s", "type": "authentication_error", "param": null, "code": null}}' % message
        assert got.content == body, header


def test_middleware_refusals_under_v1_are_in_the_tables_shape_byte_for_byte() -> None:
    from serving.web.errors import BodyLimit, MethodGuard

    app = FastAPI()
    client = TestClient(BodyLimit(MethodGuard(app, lambda path: {"GET"}), max_bytes=10))
    got = client.request("TRACE", "/v1/models")
    assert got.status_code == 405 and got.headers["allow"] == "GET"
    assert got.content == (b'{"error": {"message": "TRACE is not allowed here; use GET", '
                           b'"type": "invalid_request_error", "code": null}}')  # fmt: skip
    got = client.post("/v1/models", content=b"x" * 11)
    assert got.status_code == 413 and got.headers["content-type"] == "application/json"
    assert got.content == (b'{"error": {"message": "request body is 11 bytes; the limit is 10 '
                           b'(serving.max_request_kb)", "type": "invalid_request_error", "code": null}}')  # fmt: skip


def test_the_gate_leaves_a_door_that_checks_its_own_token_alone(tmp_path: Path) -> None:
    """/teams/messages and /slack/events carry credentials that are not ours (a Bot Framework token, a Slack
    signature): the gate must not look them up (an OIDC provider that is down would refuse Teams with 503) nor
    refuse them; every other path still needs a credential."""
    from configs.settings import AuthSettings
    from serving.access.auth import Authenticator, AuthGate
    from serving.access.keys import KeyStore

    app = FastAPI()
    keys = KeyStore(tmp_path / "auth.sqlite")
    (tmp_path / "auth.sqlite").mkdir(exist_ok=True)  # any key lookup would fail with 503
    gate = Authenticator(AuthSettings(required=True), keys, None)
    app.add_middleware(AuthGate, authenticator=gate, own_auth=("/teams/messages",))

    @app.post("/teams/messages")
    def messages() -> dict[str, str]:
        return {"checked": "by the door"}

    @app.post("/teams/other")
    def other() -> dict[str, str]:
        return {"open": "never"}

    client = TestClient(app)
    bearer = {"Authorization": "Bearer eyJ.not-ours.x"}
    assert client.post("/teams/messages", headers=bearer).json() == {"checked": "by the door"}
    assert client.post("/teams/other", headers=bearer).status_code in (401, 503)
    assert client.post("/teams/messages/", headers=bearer).status_code in (401, 404, 503)  # exact path only
