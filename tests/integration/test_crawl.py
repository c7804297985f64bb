"""Web sites as a source: `python -m ingest URL` against a real HTTP server on loopback (robots.txt, a sitemap,
chrome on every page, links and redirects to another server), re-crawls, and a crawl killed mid-run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingest.indexer import build_indexer
from retrieval.lexical import LexicalIndex
from retrieval.retriever import build_retriever
from retrieval.store import ChromaStore
from tests.conftest import PYTHON, make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FAST = {"KB_CRAWL__REQUESTS_PER_SECOND": "1000"}

CHROME = """<header><div class="brand">Acme Portal Quokkabanner</div></header>
<nav><a href="/">Home</a> <a href="/guide.html">Guide Wombatnav</a> <a href="/faq.html">FAQ</a>
<a href="/private/secret.html">Members</a></nav>
<div class="navheader"><table><tr><td><a href="/">Prev</a></td><td><a href="/">Up</a></td>
<th>Chapter 3. Wallabybar Operations</th><td><a href="/">Home</a></td><td><a href="/faq.html">Next</a></td></tr></table>
</div>"""
FOOTER = "<footer><p>Copyright Acme Numbatfooter 2026. <a href='/'>Prev</a> <a href='/faq.html'>Next</a></p></footer>"


def _page(title: str, body: str, extra: str = "") -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>{CHROME}"
        f'<div class="body"><h1>{title}</h1>{paras}{extra}</div>{FOOTER}</body></html>'
    ).encode()


def _filler(topic: str) -> str:
    return "\n\n".join(
        f"This paragraph explains {topic} in some detail, part {i}, so that the page has a real body of text "
        f"that any reader of the manual would recognise as its main content rather than navigation."
        for i in range(4)
    )


@dataclass
class Site:
    """A loopback web server whose pages a test changes; it records every request (path, headers, status)."""

    pages: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def html(self, path: str, body: bytes) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        self.pages[path] = (200, {"content-type": "text/html; charset=utf-8", "etag": etag}, body)

    def paths(self) -> list[str]:
        return [p for p, _, _ in self.requests]


@pytest.fixture
def servers() -> Iterator[tuple[Site, Site]]:
    """The site under test and another host (another port) that must never be asked for anything."""
    sites = (Site(), Site())
    started = []
    for site in sites:

        class Handler(BaseHTTPRequestHandler):
            owner = site

            def do_GET(self) -> None:
                status, headers, body = self.owner.pages.get(self.path, (404, {"content-type": "text/plain"}, b"no"))
                if status == 200 and headers.get("etag") and self.headers.get("if-none-match") == headers["etag"]:
                    status, body = 304, b""
                self.owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        site.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield sites
    for server in started:
        server.shutdown()
        server.server_close()


def _build(site: Site, other: Site) -> None:
    u = site.url
    site.pages["/robots.txt"] = (
        200,
        {"content-type": "text/plain"},
        f"User-agent: *\nDisallow: /private/\nSitemap: {u}/sitemap.xml\n".encode(),
    )
    locs = ["/", "/guide.html", "/faq.html", "/private/secret.html", "/only-in-sitemap.html"]
    site.pages["/sitemap.xml"] = (
        200,
        {"content-type": "application/xml"},
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{u}{p}</loc></url>" for p in locs)
            + "</urlset>"
        ).encode(),
    )
    links = (
        f"<ul><li><a href='/guide.html'>the guide</a></li><li><a href='http://localhost:{other.port}/away.html'>"
        f"partner site</a></li><li><a href='/moved'>moved page</a></li><li><a href='/logo.png'>logo</a></li>"
        f"<li><a href='mailto:x@example.com'>mail</a></li></ul>"
    )
    site.html(
        "/", _page("Acme Handbook", "The handbook home explains where the guides live.\n\n" + _filler("home"), links)
    )
    site.html(
        "/guide.html",
        _page(
            "Installation Guide",
            "Install the pelican widget by running the setup tool twice.\n\n" + _filler("installation"),
        ),
    )
    site.html("/faq.html", _page("FAQ", "The refund window for annual plans is forty-five days.\n\n" + _filler("faq")))
    site.html(
        "/only-in-sitemap.html",
        _page("Archive", "The archived notes mention the heron protocol.\n\n" + _filler("archive")),
    )
    site.html("/private/secret.html", _page("Secret", "The vault code is kestrel-42.\n\n" + _filler("secrets")))
    site.pages["/moved"] = (302, {"location": f"http://127.0.0.1:{other.port}/landing.html"}, b"")
    other.html("/away.html", _page("Away", "Other host." + _filler("elsewhere")))
    other.html("/landing.html", _page("Landing", "Other host." + _filler("elsewhere")))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "ingest", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **FAST, **(env or {})},
    )


def _crawl(site: Site, index: Path, start: str = "/") -> dict[str, Any]:
    proc = _cli(site.url + start, "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _indexed(index: Path) -> dict[str, str]:
    """source -> all its chunks' text, as the vector store holds them."""
    store = build_indexer(make_settings(index)).store
    assert isinstance(store, ChromaStore)
    got = store.collection.get(include=["documents", "metadatas"])
    out: dict[str, str] = {}
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        out[meta["source"]] = out.get(meta["source"], "") + "\n" + text
    return out


def test_a_site_is_crawled_within_its_bounds_and_indexed_without_its_chrome(
    servers: tuple[Site, Site], tmp_path: Path, embedder: Any
) -> None:
    site, other = servers
    _build(site, other)
    index = tmp_path / "idx"
    report = _crawl(site, index)
    u = site.url
    assert other.requests == []  # neither the link to another host nor the redirect to it was followed
    assert "/private/secret.html" not in site.paths() and "/logo.png" not in site.paths()
    excluded = {e["url"]: e["reason"] for e in report["crawl"]["excluded"]}
    assert excluded[f"{u}/private/secret.html"] == "disallowed by robots.txt"
    assert "redirects to" in excluded[f"{u}/moved"] and "another host" in excluded[f"{u}/moved"]
    pages = _indexed(index)
    assert set(pages) == {f"{u}/", f"{u}/guide.html", f"{u}/faq.html", f"{u}/only-in-sitemap.html"}
    everything = "\n".join(pages.values())
    for chrome in ("Quokkabanner", "Wombatnav", "Numbatfooter", "Wallabybar"):
        assert chrome not in everything
    assert "kestrel" not in everything

    settings = make_settings(index)
    retriever = build_retriever(settings, index, embedder=embedder)
    hits = retriever.search("How do I install the pelican widget?", top_k=3).hits
    assert hits and hits[0].chunk.source == f"{u}/guide.html"
    meta = hits[0].chunk.meta
    assert meta.title == "Installation Guide" and meta.collection == f"127.0.0.1_{site.port}"
    assert meta.relpath == f"127.0.0.1:{site.port}/guide.html"
    lexical = LexicalIndex.load(index)
    assert lexical is not None and lexical.search("pelican", 5)
    assert not lexical.search("Wombatnav Quokkabanner Wallabybar", 5)


def test_a_recrawl_fetches_conditionally_reindexes_changes_and_removes_gone_pages(
    servers: tuple[Site, Site], tmp_path: Path
) -> None:
    site, other = servers
    _build(site, other)
    index = tmp_path / "idx"
    first = _crawl(site, index)
    assert first["crawl"]["stored"] == 4 and first["new"] == 4
    site.requests.clear()
    site.html("/faq.html", _page("FAQ", "The refund window for annual plans is now sixty days.\n\n" + _filler("faq")))
    del site.pages["/only-in-sitemap.html"]  # 404 from now on
    second = _crawl(site, index)
    by_path = {p: (h, s) for p, h, s in site.requests}
    assert by_path["/guide.html"][1] == 304 and by_path["/guide.html"][0].get("if-none-match")
    assert by_path["/faq.html"][1] == 200
    assert second["crawl"]["unchanged"] == 2 and second["crawl"]["stored"] == 1 and second["crawl"]["removed"] == 1
    assert second["changed"] == 1 and second["deleted"] == 1 and second["unchanged"] == 2
    pages = _indexed(index)
    assert "sixty days" in pages[f"{site.url}/faq.html"] and "forty-five" not in pages[f"{site.url}/faq.html"]
    assert f"{site.url}/only-in-sitemap.html" not in pages
    assert not list((index / "web").rglob("*.tmp"))


def test_a_crawl_stays_below_its_start_folder(servers: tuple[Site, Site], tmp_path: Path) -> None:
    site, other = servers
    _build(site, other)
    site.html(
        "/docs/",
        _page("Docs", "Docs home.\n\n" + _filler("docs"), "<a href='/docs/a.html'>a</a> <a href='/faq.html'>faq</a>"),
    )
    site.html("/docs/a.html", _page("Docs A", "The docs page about the osprey setting.\n\n" + _filler("osprey")))
    report = _crawl(site, tmp_path / "idx", "/docs/")
    fetched = set(site.paths())
    assert {"/docs/", "/docs/a.html"} <= fetched and "/faq.html" not in fetched and "/guide.html" not in fetched
    assert set(_indexed(tmp_path / "idx")) == {f"{site.url}/docs/", f"{site.url}/docs/a.html"}
    assert report["crawl"]["complete"]


def _observable(index: Path) -> dict[str, Any]:
    """What a reader of the index sees, by URL (the saved copies' paths differ between two indexes)."""
    indexer = build_indexer(make_settings(index))
    assert isinstance(indexer.store, ChromaStore)
    got = indexer.store.collection.get(include=["documents", "metadatas"])
    chroma = sorted((m["source"], m["chunk_index"], d) for d, m in zip(got["documents"], got["metadatas"], strict=True))
    lexical = LexicalIndex.load(index)
    assert lexical is not None
    return {"chroma": chroma, "lexical": len(lexical.ids()), "manifest": len(indexer.manifest.all_chunk_ids())}


def _count(db: Path, query: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def _kill_when(index: Path, url: str, db: Path, query: str, at_least: int, env: dict[str, str]) -> int:
    """Start a crawl and SIGKILL it once `query` on `db` counts at_least; that count at the kill (0: not killed)."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "ingest", url, "--index", str(index)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and _count(db, query) < at_least:
        time.sleep(0.02)
    killed = 0
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        killed = _count(db, query)
    proc.wait()
    return killed


def test_a_crawl_killed_mid_run_is_completed_by_the_next_one(servers: tuple[Site, Site], tmp_path: Path) -> None:
    site, other = servers
    _build(site, other)
    for i in range(40):
        site.html(f"/p{i}.html", _page(f"Page {i}", f"Page {i} is about the topic number {i}.\n\n" + _filler(f"t{i}")))
    links = "".join(f"<a href='/p{i}.html'>p{i}</a>" for i in range(40))
    site.html("/", _page("Acme Handbook", _filler("home"), links))
    killed = tmp_path / "killed"
    env = {**os.environ, **FAST, "KB_CRAWL__REQUESTS_PER_SECOND": "20", "KB_INGEST__BATCH_CHUNKS": "8"}
    # Killed while crawling (some pages saved), then while indexing the mirror (some pages committed).
    saved = _kill_when(killed, site.url + "/", killed / "web" / "crawl.sqlite", "SELECT COUNT(*) FROM pages", 10, env)
    assert 10 <= saved < 44
    env["KB_CRAWL__REQUESTS_PER_SECOND"] = "1000"
    query = "SELECT COUNT(*) FROM files"
    committed = _kill_when(killed, site.url + "/", killed / "manifest.sqlite", query, 3, env)
    assert 3 <= committed < 44
    finish = _cli(site.url + "/", "--index", str(killed), "--json", env={"KB_INGEST__BATCH_CHUNKS": "8"})
    assert finish.returncode == 0, finish.stderr
    clean = tmp_path / "clean"
    _crawl(site, clean)
    assert _observable(killed) == _observable(clean)
    assert len({s for s, _, _ in _observable(clean)["chroma"]}) == 44


def test_a_watched_site_is_crawled_again_on_its_schedule(servers: tuple[Site, Site], tmp_path: Path) -> None:
    """`python -m ingest URL --watch`: the site again every crawl.recrawl_minutes, one report each, until SIGTERM."""
    site, other = servers
    _build(site, other)
    index = tmp_path / "idx"
    proc = subprocess.Popen(
        [PYTHON, "-m", "ingest", site.url + "/", "--index", str(index), "--watch", "--json"],
        cwd=ROOT,
        env={**os.environ, **FAST, "KB_CRAWL__RECRAWL_MINUTES": "0.02"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["crawl"]["stored"] == 4
        site.html("/faq.html", _page("FAQ", "The refund window is now ninety days.\n\n" + _filler("faq")))
        again = json.loads(proc.stdout.readline())  # the next scheduled crawl, about a second later
        assert again["crawl"]["stored"] == 1 and again["changed"] == 1 and again["crawl"]["unchanged"] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert "ninety days" in _indexed(index)[f"{site.url}/faq.html"]
