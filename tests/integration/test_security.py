"""The running server attacked from outside: every route of the OpenAPI document and every function of the page
(from its own /config) refuses anyone without a valid credential; authentication never switches itself off
(every key revoked, the keys database lost); the health check, metrics, rate limits and sign-in paths give an
outsider nothing. The page attacked from inside (uploads, served files) is test_security_page.py; the fuzzing
pass over the page's functions is test_security_fuzz.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PYTHON
from tests.integration.attack import (
    Team,
    bad_credentials,
    create_keys,
    operations,
    refused,
    revoke,
    send,
    sign_in,
    start_team,
)
from tests.integration.page_client import PageClient, PageFunction

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
OPEN = {("GET", "/v1/health")}  # the one route anyone may call (load balancers)


@pytest.fixture(scope="module")
def team(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    state = tmp_path_factory.mktemp("outsider")
    keys = create_keys(state / "auth.sqlite")
    with start_team(kb_index, state) as app:
        yield Team(app, keys, state)


@pytest.fixture(scope="module")
def cookies(team: Team) -> dict[str, dict[str, str]]:
    """Page sessions: alice's, and one opened with a key that was revoked afterwards."""
    opened = {"alice": sign_in(team.url, team.keys["alice"]), "gone": sign_in(team.url, team.keys["gone"])}
    revoke(team.keys_db, "gone")
    return opened


@pytest.fixture(scope="module")
def spec(team: Team) -> dict[str, object]:
    r = httpx.get(f"{team.url}/v1/openapi.json", headers=team.headers("root"))
    assert r.status_code == 200
    return dict(r.json())


@pytest.fixture(scope="module")
def functions(team: Team, cookies: dict[str, dict[str, str]]) -> list[PageFunction]:
    with PageClient(team.url, cookies["alice"]) as page:
        found = page.functions()
    assert any("upload" in f.api_name for f in found) and any(f.trigger == "like" for f in found)
    return found


def _it_file(team: Team) -> str:
    r = httpx.post(f"{team.url}/v1/retrieve", json={"query": "VPN password"}, headers=team.headers("bob"))
    return str(r.json()["hits"][0]["metadata"]["source"])


def test_the_openapi_document_is_not_public(team: Team) -> None:
    assert httpx.get(f"{team.url}/v1/openapi.json").status_code == 401


def test_every_api_route_refuses_a_request_without_a_valid_credential(
    team: Team, spec: dict[str, object], cookies: dict[str, dict[str, str]]
) -> None:
    source = _it_file(team)
    ops = [op for op in operations(spec, source) if (op.method, op.path) not in OPEN]
    assert len(ops) >= 10 and {"/v1/retrieve", "/v1/chat/completions", "/v1/files"} <= {op.path for op in ops}
    failures = []
    for name, (headers, jar) in bad_credentials(team, cookies["gone"], cookies["alice"]).items():
        for op in ops:
            r = send(team.url, op, headers, jar)
            if not refused(r):
                failures.append(f"{name}: {op.method} {op.path} -> {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_every_page_function_refuses_a_call_without_a_valid_credential(
    team: Team, functions: list[PageFunction], cookies: dict[str, dict[str, str]]
) -> None:
    failures = []
    for name, (headers, jar) in bad_credentials(team, cookies["gone"], cookies["alice"]).items():
        with PageClient(team.url, jar, headers) as page:
            for fn in functions:
                for r in (
                    page.join(fn, [None] * len(fn.inputs)),
                    page.http.post(f"/gradio_api/call/{fn.api_name}", json={"data": [None] * len(fn.inputs)}),
                ):
                    if not refused(r):
                        failures.append(f"{name}: {fn.api_name} {r.request.url.path} -> {r.status_code} {r.text[:120]}")
            for method, path in (
                ("GET", "/config"),
                ("GET", "/gradio_api/info"),
                ("GET", f"/gradio_api/queue/data?session_hash={page.session_hash}"),
                ("POST", "/gradio_api/upload"),
                ("POST", "/gradio_api/cancel"),
                ("GET", f"/gradio_api/file={team.keys_db}"),
                ("GET", "/"),
            ):
                r = page.http.request(method, path, headers={"accept": "text/html"} if path == "/" else {})
                if not refused(r):
                    failures.append(f"{name}: {method} {path} -> {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_revoking_every_key_or_losing_the_keys_database_keeps_every_route_closed(
    kb_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("all-revoked")
    keys = create_keys(state / "auth.sqlite", {"carol": {"hr-staff"}})
    auth = {"Authorization": f"Bearer {keys['carol']}"}
    env = {**os.environ, "KB_AUTH__KEYS_DB": str(state / "auth.sqlite")}

    def closed(url: str, spec: dict[str, object], functions: list[PageFunction], when: str) -> list[str]:
        failures = []
        for op in operations(spec):
            for headers in ({}, auth):
                r = send(url, op, headers, {})
                if (op.method, op.path) in OPEN:
                    assert r.status_code == 200, when
                elif r.status_code != 401:
                    failures.append(f"{when}: {op.method} {op.path} {bool(headers)} -> {r.status_code} {r.text[:80]}")
        with PageClient(url) as page:
            for fn in functions:
                if (r := page.join(fn, [None] * len(fn.inputs))).status_code != 401:
                    failures.append(f"{when}: page {fn.api_name} -> {r.status_code} {r.text[:80]}")
            if not refused(page.http.get("/", headers={"accept": "text/html"})):
                failures.append(f"{when}: the page opened")
        return failures

    with start_team(kb_index, state) as app:
        spec = httpx.get(f"{app.url}/v1/openapi.json", headers=auth).json()
        with PageClient(app.url, sign_in(app.url, keys["carol"])) as page:
            functions = page.functions()
        revoked = subprocess.run(
            [PYTHON, "-m", "serving", "keys", "revoke", "carol"], capture_output=True, text=True, env=env, cwd=ROOT
        )
        assert revoked.returncode == 0, revoked.stderr
        failures = closed(app.url, spec, functions, "every key revoked")
        with start_team(kb_index, state) as restarted:  # a restart on a keys database holding only revoked keys
            failures += closed(restarted.url, spec, functions, "restarted with every key revoked")
        for name in ("auth.sqlite", "auth.sqlite-wal", "auth.sqlite-shm", "auth.sqlite-journal"):
            (state / name).unlink(missing_ok=True)  # the database lost (whatever the server keeps beside it stays)
        failures += closed(app.url, spec, functions, "keys database deleted")
    with start_team(kb_index, state) as restarted:  # and a restart without it
        failures += closed(restarted.url, spec, functions, "restarted without the keys database")
    assert not failures, "\n".join(failures)


def test_health_shows_no_index_totals_to_anonymous_callers(team: Team) -> None:
    r = httpx.get(f"{team.url}/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"

    def keys(value: object) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        return set()

    assert not keys(r.json()) & {"chunks", "files", "documents", "collections"}, r.json()


def test_metrics_are_not_readable_beyond_the_callers_rights(team: Team) -> None:
    url = f"{team.url}/metrics"
    assert httpx.get(url).status_code == 401
    alice = httpx.get(url, headers=team.headers("alice"))  # may read hr only: counts over every collection are not hers
    assert alice.status_code in (401, 403) and "kb_index_files" not in alice.text
    root = httpx.get(url, headers=team.headers("root"))  # may read everything
    assert root.status_code == 200 and "kb_index_files" in root.text


def test_the_anonymous_rate_limit_cannot_be_dodged_with_forwarded_headers(kb_index: Path, tmp_path: Path) -> None:
    from tests.integration.conftest import start_app

    limits = {"requests_per_minute": 3, "answers_per_day": 0, "concurrent_answers": 0}
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, limits=limits) as app:  # no keys: anonymous
        statuses = [
            httpx.get(
                f"{app.url}/v1/models",
                headers={
                    "X-Forwarded-For": f"203.0.113.{i}",
                    "X-Real-IP": f"203.0.113.{i}",
                    "Forwarded": f"for=203.0.113.{i}",
                },
            ).status_code
            for i in range(6)
        ]
    assert statuses.count(200) == 3 and statuses[3:] == [429, 429, 429], statuses


def test_the_sign_in_prefix_reaches_only_the_sign_in_pages(team: Team) -> None:
    for path in ("/login/", "/login/anything", "/login/../config", "/login/%2e%2e/config"):
        for method in ("GET", "POST"):
            r = httpx.request(method, f"{team.url}{path}", data={"username": "alice", "password": "x"})
            assert "access-token" not in r.headers.get("set-cookie", ""), (method, path)
            assert r.status_code in (303, 401, 404, 405), (method, path, r.status_code, r.text[:200])
            assert "success" not in r.text and "components" not in r.text, (method, path, r.text[:200])
