"""The page attacked by a hostile insider (alice: reads and uploads collection hr) and on the default single-user
page: a file input naming a server path instead of an upload, documents that carry script, a file swapped for a
link after it was indexed, and the page's own headers and cross-origin policy."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.attack import Team, create_keys, sign_in, start_team
from tests.integration.conftest import start_app
from tests.integration.page_client import Outcome, PageClient, PageFunction, file_data

pytestmark = pytest.mark.integration
MARKER = "The zebra vault code is purple-forty-two."
ACTIVE = {
    "evil.html": "<html><body><script>fetch('/v1/files?source=x')</script><p>Evil page about canteen menus.</p>",
    "evil.htm": "<html><body><script>alert(document.cookie)</script><p>Evil page about canteen opening hours.</p>",
    "evil.svg": "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script><text>canteen</text></svg>",
    "evil.xhtml": "<html xmlns='http://www.w3.org/1999/xhtml'><body><script>alert(1)</script>canteen</body></html>",
}
INERT = {
    "evil.txt": "<html><script>alert('sniffed')</script> The canteen serves breakfast from 8:00.</html>",
    "evil.md": "# Canteen\n\n<script>alert('markdown')</script>\n\nThe canteen closes at 15:00 on Fridays.\n",
}


def _copy_index(kb_index: Path, to: Path) -> Path:
    """Uploads write into the index: each server gets its own copy of the shared one."""
    shutil.copytree(kb_index, to)
    return to


@pytest.fixture(scope="module")
def team(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    state = tmp_path_factory.mktemp("insider")
    keys = create_keys(state / "auth.sqlite")
    with start_team(_copy_index(kb_index, state / "index"), state) as app:
        yield Team(app, keys, state)


@pytest.fixture(scope="module")
def page(team: Team) -> Iterator[PageClient]:
    with PageClient(team.url, sign_in(team.url, team.keys["alice"])) as client:
        yield client


@pytest.fixture(scope="module")
def upload(page: PageClient) -> PageFunction:
    """The page's upload event: its API name says so, and it takes the files and the target collection."""
    found = [f for f in page.functions() if "upload" in f.api_name]
    assert len(found) == 1, found
    assert found[0].inputs == ("file", "textbox"), found[0]
    return found[0]


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A document outside every ingest root and the upload folder, in a format ingest would index."""
    path = tmp_path_factory.mktemp("outside") / "vault.md"
    path.write_text(f"# Vault\n\n{MARKER}\n")
    return path


def _uploaded(team: Team) -> set[Path]:
    return {p for p in team.uploads.rglob("*") if p.is_file()}


def _alice_finds(team: Team, text: str) -> bool:
    r = httpx.post(f"{team.url}/v1/retrieve", json={"query": text, "top_k": 20}, headers=team.headers("alice"))
    assert r.status_code == 200, r.text
    return any(text[:20] in h["text"] for h in r.json()["hits"])


def _it_file(team: Team) -> str:
    r = httpx.post(f"{team.url}/v1/retrieve", json={"query": "VPN password"}, headers=team.headers("bob"))
    return str(r.json()["hits"][0]["metadata"]["source"])


def _refusal(outcome: Outcome) -> str:
    """The error the page shows for a refused call: present, one clear line, no traceback."""
    assert not outcome.success, f"accepted: {outcome.data[:1]}"
    assert outcome.error and "Traceback" not in outcome.error and "\n" not in outcome.error.strip(), outcome.error
    return outcome.error


def test_the_upload_event_takes_real_uploads_into_the_users_collection(
    team: Team, page: PageClient, upload: PageFunction, tmp_path: Path
) -> None:
    note = tmp_path / "canteen-hours.md"
    note.write_text("# Canteen hours\n\nThe staff canteen serves lunch from 11:30 to 14:00 on weekdays.\n")
    [stored] = page.upload(note)  # through Gradio's own upload route, as the page does
    done = page.call(upload, [[file_data(stored, note.name)], "hr"])
    assert done.success, done.error
    assert "Indexed 1 file(s) into **hr**" in str(done.data[0])
    assert (team.uploads / "hr" / note.name).read_text() == note.read_text()
    assert _alice_finds(team, "The staff canteen serves lunch from 11:30")
    bob = httpx.post(f"{team.url}/v1/retrieve", json={"query": "canteen lunch"}, headers=team.headers("bob"))
    assert all("canteen" not in h["text"].lower() for h in bob.json()["hits"])
    refused = page.call(upload, [[file_data(page.upload(note)[0], note.name)], "it"])  # alice may only read it
    assert "access.upload" in _refusal(refused)


def test_an_upload_naming_a_server_path_is_refused_and_nothing_is_copied(
    team: Team, page: PageClient, upload: PageFunction, outside: Path, tmp_path: Path
) -> None:
    decoy = tmp_path / "decoy.md"
    decoy.write_text("# Decoy\n\nA real upload, to learn where the upload folder is.\n")
    [stored] = page.upload(decoy)
    up = "/".join([".."] * len(Path(stored).parts))  # from inside the upload folder back to /
    targets = [
        _it_file(team),  # another collection's document
        str(outside),  # a file outside every root
        str(team.keys_db),  # the keys database
        "/etc/passwd",
        f"{Path(stored).parent}/{up}{outside}",  # inside the upload folder, then out again
        os.path.relpath(outside),  # relative to the server's working directory
        f"{team.url}/v1/health",  # a URL: the server must not fetch anything for a client
    ]
    before = _uploaded(team)
    for target in targets:
        outcome = page.call(upload, [[file_data(target, "vault.md")], "hr"])
        _refusal(outcome)
        outcome = page.call(upload, [[file_data(stored, decoy.name), file_data(target, "vault.md")], "hr"])
        _refusal(outcome)  # one forged file refuses the whole call, the real upload beside it included
    assert _uploaded(team) == before, "a refused upload left files behind"
    assert not _alice_finds(team, MARKER)
    for name in ("vault.md", "passwd", "auth.sqlite", Path(targets[0]).name):
        r = httpx.get(
            f"{team.url}/v1/files", params={"source": str(team.uploads / "hr" / name)}, headers=team.headers("alice")
        )
        assert r.status_code == 404


def test_the_single_user_page_refuses_server_paths_too(kb_index: Path, tmp_path: Path, outside: Path) -> None:
    uploads = tmp_path / "uploads"
    index = _copy_index(kb_index, tmp_path / "index")
    app = start_app(index, tmp_path, llm={"backend": "extractive"}, serving={"uploads_dir": str(uploads)})
    with app, PageClient(app.url) as local:  # no keys: the one local user, no sign-in
        [fn] = [f for f in local.functions() if "upload" in f.api_name]
        for target in (str(outside), "/etc/passwd", str(index / "chroma.sqlite3")):
            _refusal(local.call(fn, [[file_data(target, "vault.md")], "uploads"]))
        assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))
        hits = httpx.post(f"{app.url}/v1/retrieve", json={"query": MARKER}).json()["hits"]
        assert all("zebra" not in h["text"] for h in hits)
        note = tmp_path / "real.md"
        note.write_text("# Real\n\nA real upload on the single-user page is indexed.\n")
        done = local.call(fn, [[file_data(local.upload(note)[0], note.name)], "uploads"])
        assert done.success and "Indexed 1 file(s)" in str(done.data[0]), done.error


def test_documents_with_script_are_never_served_as_active_content(
    team: Team, page: PageClient, upload: PageFunction, tmp_path: Path
) -> None:
    files = []
    for name, text in {**ACTIVE, **INERT}.items():
        (tmp_path / name).write_text(text)
        files.append(tmp_path / name)
    stored = page.upload(*files)
    page.call(upload, [[file_data(s, f.name) for s, f in zip(stored, files, strict=True)], "hr"])
    served = {}
    for f in files:
        r = page.http.get("/v1/files", params={"source": str(team.uploads / "hr" / f.name)})  # the page's source link
        assert r.status_code in (200, 404), (f.name, r.status_code)
        if r.status_code == 200:
            served[f.name] = r
    assert {"evil.html", "evil.htm", "evil.txt", "evil.md"} <= set(served), sorted(served)
    for name, r in served.items():
        kind = r.headers["content-type"]
        disposition = r.headers.get("content-disposition", "")
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert "sandbox" in r.headers.get("content-security-policy", ""), name
        if name in ACTIVE:
            assert disposition.startswith("attachment") or kind.startswith("text/plain"), (name, kind, disposition)
        assert not kind.startswith(("text/html", "application/xhtml", "image/svg")) or disposition.startswith(
            "attachment"
        ), (name, kind, disposition)


def test_a_file_replaced_by_a_link_after_indexing_is_not_served(
    team: Team, page: PageClient, upload: PageFunction, tmp_path: Path
) -> None:
    note = tmp_path / "soon-a-link.md"
    note.write_text("# Parking\n\nVisitors park on level minus two of the garage.\n")
    assert page.call(upload, [[file_data(page.upload(note)[0], note.name)], "hr"]).success
    indexed = team.uploads / "hr" / note.name
    url = f"{team.url}/v1/files"
    assert httpx.get(url, params={"source": str(indexed)}, headers=team.headers("alice")).status_code == 200
    for target in (team.keys_db, Path(_it_file(team))):
        indexed.unlink()
        indexed.symlink_to(target)
        r = httpx.get(url, params={"source": str(indexed)}, headers=team.headers("alice"))
        assert r.status_code == 404 and "SQLite" not in r.text and "VPN" not in r.text, (target, r.status_code)


def test_the_page_sends_security_headers(team: Team, page: PageClient) -> None:
    for path in ("/", "/login"):
        r = page.http.get(path, headers={"accept": "text/html"})
        assert r.status_code == 200, path
        policy = r.headers.get("content-security-policy", "")
        assert "frame-ancestors" in policy and "frame-ancestors *" not in policy, (path, policy)
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert r.headers.get("referrer-policy") in ("no-referrer", "same-origin", "strict-origin-when-cross-origin")


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:9", "http://127.0.0.1:9", "null"])
def test_no_other_origin_may_read_the_page_or_the_api_with_credentials(
    team: Team, page: PageClient, origin: str
) -> None:
    def allowed(r: httpx.Response) -> bool:
        allow = r.headers.get("access-control-allow-origin")
        return allow in (origin, "*") and r.headers.get("access-control-allow-credentials") == "true"

    preflight = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    for path in ("/config", "/gradio_api/info", "/v1/files?source=x"):
        assert not allowed(page.http.get(path, headers={"origin": origin})), path
    for path in ("/gradio_api/queue/join", "/gradio_api/upload", "/v1/retrieve"):
        assert not allowed(page.http.options(path, headers=preflight)), path
    r = httpx.post(
        f"{team.url}/v1/retrieve", json={"query": "leave"}, headers={**team.headers("alice"), "origin": origin}
    )
    assert not allowed(r)


def test_the_page_file_route_serves_no_server_file(team: Team, page: PageClient, outside: Path, tmp_path: Path) -> None:
    """Gradio's own /gradio_api/file= route: uploads of this visitor only, never the server's other files."""
    targets = [str(team.keys_db), _it_file(team), str(outside), "/etc/passwd", str(team.state / "index")]
    targets += [str(Path.cwd() / "pyproject.toml"), f"{team.url}/v1/health"]
    for target in targets:
        r = page.http.get(f"/gradio_api/file={target}")
        assert r.status_code in (403, 404) and "SQLite" not in r.text and "root:x" not in r.text, (
            target,
            r.status_code,
        )
    note = tmp_path / "mine.txt"
    note.write_text("my own upload")
    [stored] = page.upload(note)
    assert page.http.get(f"/gradio_api/file={stored}").text == "my own upload"  # what the page itself needs


def test_an_upload_naming_a_url_makes_the_server_fetch_nothing(page: PageClient, upload: PageFunction) -> None:
    """A file input naming a URL: the server must not download it for the client (Gradio would fetch any public
    address into its cache, which is the upload folder). The host is in .invalid, which never resolves, so the
    attempt shows in the message without any traffic leaving the machine."""
    outcome = page.call(upload, [[file_data("http://kb-upload-probe.invalid/handbook.md", "handbook.md")], "hr"])
    error = _refusal(outcome)
    assert "resolve" not in error and "download" not in error.lower(), f"the server tried to fetch the URL: {error}"
