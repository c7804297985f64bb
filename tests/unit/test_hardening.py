"""Closed to attackers, the building blocks: paths from clients, how documents are served, the security headers, and
authentication that is decided once and never switches itself off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from configs.errors import ConfigError
from configs.settings import AuthSettings
from serving.access.auth import Authenticator, auth_required, check_exposure
from serving.access.keys import KeyStore
from serving.access.paths import PathRefused, served_file, uploaded_file
from serving.web.hardening import DOCUMENT_POLICY, SecurityHeaders, document_type
from tests.conftest import make_settings

# --- paths a client names -----------------------------------------------------------------------------------


def test_only_a_file_inside_the_upload_folder_is_an_upload(tmp_path: Path) -> None:
    uploads = tmp_path / "gradio"
    (uploads / "abc").mkdir(parents=True)
    mine = uploads / "abc" / "notes.md"
    mine.write_text("uploaded")
    secret = tmp_path / "docs" / "it" / "secret.md"
    secret.parent.mkdir(parents=True)
    secret.write_text("it only")
    assert uploaded_file(str(mine), uploads) == mine.resolve()
    for attack in (str(secret), "/etc/passwd", str(uploads / "abc" / ".." / ".." / "docs" / "it" / "secret.md"),
                   str(uploads), str(uploads / "abc")):  # fmt: skip
        with pytest.raises(PathRefused, match="upload"):
            uploaded_file(attack, uploads)
    # A link planted in the upload folder that points out of it is no upload either.
    (uploads / "abc" / "link.md").symlink_to(secret)
    with pytest.raises(PathRefused, match="not uploaded in this request"):
        uploaded_file(str(uploads / "abc" / "link.md"), uploads)


def test_a_served_document_is_the_file_itself_never_a_link(tmp_path: Path) -> None:
    doc = tmp_path / "hr" / "leave.md"
    doc.parent.mkdir()
    doc.write_text("leave")
    assert served_file(str(doc)) == doc
    keys = tmp_path / "auth.sqlite"
    keys.write_text("hashes")
    doc.unlink()
    doc.symlink_to(keys)  # an indexed file replaced by a link to the keys database
    assert served_file(str(doc)) is None
    linked_dir = tmp_path / "linked"
    linked_dir.symlink_to(tmp_path / "hr")
    assert served_file(str(linked_dir / "leave.md")) is None
    assert served_file(str(tmp_path / "missing.md")) is None


def test_active_formats_are_served_as_text_and_unknown_ones_as_downloads() -> None:
    for name in ("page.html", "x.HTM", "drawing.svg", "feed.xml", "a.xhtml", "notes.md", "data.csv"):
        assert document_type(Path(name)) == ("text/plain; charset=utf-8", "inline"), name
    assert document_type(Path("manual.pdf")) == ("application/pdf", "inline")
    assert document_type(Path("deck.pptx")) == ("application/octet-stream", "attachment")
    assert document_type(Path("script.js")) == ("application/octet-stream", "attachment")


# --- security headers ---------------------------------------------------------------------------------------


def _client() -> TestClient:
    def page(request: object) -> Response:
        return PlainTextResponse("<html>page</html>", media_type="text/html")

    def document(request: object) -> Response:
        return PlainTextResponse("doc", headers={"content-security-policy": DOCUMENT_POLICY})

    routes = [Route("/", page), Route("/v1/files", document), Route("/gradio_api/file={rest:path}", page)]
    return TestClient(SecurityHeaders(Starlette(routes=routes)))


def test_every_response_carries_the_security_headers_and_a_document_keeps_its_sandbox() -> None:
    client = _client()
    page = client.get("/")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "default-src 'self'" in policy
    served = client.get("/v1/files")
    assert served.headers["content-security-policy"].startswith("sandbox")
    assert served.headers["x-content-type-options"] == "nosniff"


def test_the_page_framework_does_not_fetch_urls_for_clients() -> None:
    refused = _client().get("/gradio_api/file=http://169.254.169.254/latest/meta-data")
    assert refused.status_code == 403 and "does not fetch URLs" in refused.json()["error"]["message"]


# --- authentication that fails closed -----------------------------------------------------------------------


def test_revoking_every_key_or_losing_the_database_never_switches_authentication_off(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "auth.sqlite")
    settings = AuthSettings(keys_db=store.path)
    auth = Authenticator(settings, store, None)
    assert not auth.required()  # nothing configured: the one local user
    record, _ = store.create("alice", frozenset({"hr"}))
    assert auth.required()  # the first key switches it on while the server runs
    store.revoke(record.id)
    assert auth.required() and Authenticator(settings, store, None).required()  # ... and at the next start
    os.remove(store.path)  # the database lost: the marker beside it still says the server was keyed
    assert Authenticator(settings, KeyStore(store.path), None).required()
    store.marker.unlink()
    assert not Authenticator(settings, KeyStore(store.path), None).required()


def test_auth_required_is_explicit_or_on_for_oidc_and_beyond_loopback(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "auth.sqlite")
    assert not auth_required(AuthSettings(), "127.0.0.1", store)
    assert auth_required(AuthSettings(required=True), "127.0.0.1", store)
    assert auth_required(AuthSettings(), "0.0.0.0", store)  # noqa: S104 (the address under test)
    assert not auth_required(AuthSettings(allow_anonymous_remote=True), "0.0.0.0", store)  # noqa: S104
    assert auth_required(AuthSettings(oidc_issuer="https://id.example"), "127.0.0.1", store)
    store.create("alice", frozenset())
    assert not auth_required(AuthSettings(required=False), "127.0.0.1", store)


def test_listening_beyond_loopback_with_authentication_switched_off_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "index", serving={"host": "0.0.0.0"},  # noqa: S104
                             auth={"required": False, "keys_db": str(tmp_path / "auth.sqlite")})  # fmt: skip
    with pytest.raises(ConfigError, match="auth.required: false"):
        check_exposure(settings)
