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
    assert got.status_code == status
    assert got.json() == {"error": {"message": str(error), "type": kind, "code": None}}


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
    assert got.json() == {"error": {"message": "over 30 requests a minute; wait 12 s", "type": "rate_limit_error",
                                    "code": None}}  # fmt: skip


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
