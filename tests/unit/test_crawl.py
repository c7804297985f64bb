import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import markdown_it
import pytest

from configs.settings import CrawlSettings
from ingest import crawl
from ingest.crawl import Crawler, Fetcher, Refused, Robots, Scope, normalize, page_links, sitemap_urls
from ingest.crawlstate import CrawlState
from ingest.records import _at_url
from retrieval.types import ChunkMeta
from serving.answer.citations import Citation, source_link
from serving.doors.teams.replies import render as teams_markdown
from serving.ui.render import answer_markdown

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {}
SEEN: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append(f"{self.server.server_address[1]}{self.path}")  # type: ignore[index]
        status, headers, body = ROUTES.get(self.path, (404, {}, b""))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v.replace("PORT", str(self.server.server_address[1])))  # type: ignore[index]
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    SEEN.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_urls_are_normalized_and_only_http_is_crawlable() -> None:
    assert normalize("HTTP://Example.COM:80/a#top") == "http://example.com/a"
    assert normalize("../b?x=1", "https://example.com:8443/docs/a/") == "https://example.com:8443/docs/b?x=1"
    assert normalize("https://user:pw@example.com") == "https://example.com/"
    assert normalize("http://Bücher.example/a") == "http://xn--bcher-kva.example/a"
    bad_urls = ("mailto:a@example.com", "javascript:alert(1)", "file:///etc/passwd", "ftp://example.com/", "http://")
    for bad in (*bad_urls, "http://../x", "http://a..b/"):  # a host names a mirror folder: never a path
        assert normalize(bad) is None


def test_the_scope_is_the_start_host_below_its_folder() -> None:
    scope = Scope.of("http://docs.example.com/manual/index.html", CrawlSettings())
    assert scope.prefix == "/manual/" and scope.key == "http://docs.example.com/manual/"
    assert scope.refusal("http://docs.example.com/manual/ch1.html") is None
    assert "outside the crawled folder" in (scope.refusal("http://docs.example.com/blog/") or "")
    assert "another host" in (scope.refusal("http://evil.example.com/manual/") or "")
    assert "another host" in (scope.refusal("http://docs.example.com:8080/manual/") or "")
    wider = Scope.of("http://docs.example.com/manual/", CrawlSettings(allowed_hosts=("cdn.example.com",)))
    assert wider.refusal("http://cdn.example.com/any/page.html") is None


def test_redirects_are_checked_and_pages_are_bounded(server: str) -> None:
    html = {"content-type": "text/html"}
    ROUTES.update(
        {
            "/away": (302, {"location": "http://localhost:1/elsewhere"}, b""),
            "/scheme": (301, {"location": "file:///etc/passwd"}, b""),
            "/inside": (301, {"location": "/page"}, b""),
            "/page": (200, html, b"<html><body><p>Hello</p></body></html>"),
            "/big": (200, html, b"x" * 5000),
            "/pdf": (200, {"content-type": "application/pdf"}, b"%PDF-1.4"),
            "/loop": (302, {"location": "/loop"}, b""),
        }
    )
    fetcher = Fetcher(
        CrawlSettings(max_page_bytes=4096, requests_per_second=1000), Scope.of(server + "/", CrawlSettings())
    )
    got = fetcher.get(server + "/inside", html_only=True)
    assert got.url == server + "/page" and got.status == 200 and b"Hello" in got.body
    with pytest.raises(Refused, match="another host"):
        fetcher.get(server + "/away", html_only=True)
    with pytest.raises(Refused, match="non-http"):
        fetcher.get(server + "/scheme", html_only=True)
    with pytest.raises(Refused, match="max_page_bytes=4096"):
        fetcher.get(server + "/big", html_only=True)
    with pytest.raises(Refused, match="not an HTML page"):
        fetcher.get(server + "/pdf", html_only=True)
    with pytest.raises(Refused, match="max_redirects"):
        fetcher.get(server + "/loop", html_only=True)
    fetcher.close()
    assert not any("elsewhere" in s or "passwd" in s for s in SEEN)


def test_links_honour_base_nofollow_and_robots_meta() -> None:
    page = (
        b"<html><head><base href='/docs/'><meta name='robots' content='noindex'></head><body>"
        b"<a href='a.html#x'>a</a><a rel='nofollow' href='b.html'>b</a><a href='mailto:x@y'>m</a></body></html>"
    )
    links, noindex, nofollow = page_links(page, "http://h.example/start.html")
    assert links == ["http://h.example/docs/a.html"] and noindex and not nofollow


def test_a_web_page_source_links_to_its_url_and_a_file_to_the_file_route() -> None:
    assert source_link("https://docs.example.com/a b.html?q=(1)") == "https://docs.example.com/a%20b.html?q=%281%29"
    assert source_link("/srv/docs/x.pdf", "https://kb.example.com/", 3) == (
        "https://kb.example.com/v1/files?source=/srv/docs/x.pdf#page=3"
    )


HTML = {"content-type": "text/html"}
PAGE = b"<html><body><p>Hello compressed world</p></body></html>"


def test_a_compressed_page_is_decoded_within_its_bound_and_stacked_codings_are_refused(server: str) -> None:
    bomb = gzip.compress(b"\0" * (32 << 20), 9)  # 32 MB in about 32 KB
    ROUTES.update(
        {
            "/gz": (200, {**HTML, "content-encoding": "gzip"}, gzip.compress(PAGE)),
            "/deflate": (200, {**HTML, "content-encoding": "deflate"}, zlib.compress(PAGE)),
            "/bomb": (200, {**HTML, "content-encoding": "gzip"}, bomb),
            "/stacked": (200, {**HTML, "content-encoding": "gzip, gzip"}, gzip.compress(gzip.compress(PAGE))),
            "/br": (200, {**HTML, "content-encoding": "br"}, b"\x0b\x02\x80hello\x03"),
        }
    )
    settings = CrawlSettings(max_page_bytes=64 * 1024, requests_per_second=1000)
    fetcher = Fetcher(settings, Scope.of(server + "/", settings))
    assert fetcher.get(server + "/gz", html_only=True).body == PAGE
    assert fetcher.get(server + "/deflate", html_only=True).body == PAGE
    tracemalloc.start()
    try:
        with pytest.raises(Refused, match="max_page_bytes=65536"):
            fetcher.get(server + "/bomb", html_only=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # never unpacked past the bound (a whole network chunk of it would be 32 MB)
    for path in ("/stacked", "/br"):
        with pytest.raises(Refused, match="content-encoding .* not accepted; the crawler reads one of gzip, deflate"):
            fetcher.get(server + path, html_only=True)
    fetcher.close()


def test_dot_segments_and_markup_in_a_url_are_normalized_away(server: str) -> None:
    assert normalize("http://h.example/docs/../private/x.html") == "http://h.example/private/x.html"
    assert normalize("http://h.example/docs/%2e%2E/private/x.html") == "http://h.example/private/x.html"
    assert normalize("http://h.example/docs/./a/b/..") == "http://h.example/docs/a/"
    assert normalize("http://h.example/../../etc") == "http://h.example/etc"
    assert normalize("http://h.example/x](https://evil.example/)[y?q=<b> c") == (
        "http://h.example/x%5D(https://evil.example/)%5By?q=%3Cb%3E%20c"
    )
    scope = Scope.of(server + "/docs/", CrawlSettings())
    assert "outside the crawled folder" in (scope.refusal(normalize(server + "/docs/../private/x") or "") or "")
    ROUTES["/robots.txt"] = (404, {}, b"")
    ROUTES["/sitemap.xml"] = (
        200,
        {"content-type": "application/xml"},
        f"<urlset><url><loc>{server}/docs/../private/a.html</loc></url><url><loc>{server}/docs/./b.html</loc></url>"
        f"</urlset>".encode(),
    )
    settings = CrawlSettings(requests_per_second=1000)
    fetcher = Fetcher(settings, scope)
    assert list(sitemap_urls(fetcher, Robots(fetcher), scope)) == [f"{server}/private/a.html", f"{server}/docs/b.html"]
    fetcher.close()


@pytest.fixture
def dribbling() -> Iterator[str]:
    """A server that sends its response head a byte every 50 ms: each read well inside any per-read timeout."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: aaaaaaaaaa\r\nContent-Length: 5\r\n\r\nhello"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                for byte in head:
                    if stop.is_set():
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(0.05)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    sock.close()


def test_one_deadline_bounds_a_whole_request_head_included(dribbling: str) -> None:
    settings = CrawlSettings(timeout_s=0.5, requests_per_second=1000)
    fetcher = Fetcher(settings, Scope.of(dribbling + "/", settings))
    with pytest.raises(Refused, match=r"took over crawl.timeout_s=0.5 s \(connect, response head and body\)"):
        fetcher.get(dribbling + "/a", html_only=True)  # the head alone takes about 4 s
    fetcher.close()


def _site_of_refusals(n: int) -> None:
    """A start page linking to n URLs that each answer with an image: each a request refused as not HTML."""
    links = "".join(f'<a href="/docs/cal?day={i}">d{i}</a>' for i in range(n))
    ROUTES["/docs/"] = (200, HTML, f"<html><body><p>start</p>{links}</body></html>".encode())
    for i in range(n):
        ROUTES[f"/docs/cal?day={i}"] = (200, {"content-type": "image/png"}, b"\x89PNG")


def _crawler(server: str, tmp_path: Path, **kw: Any) -> Crawler:
    settings = CrawlSettings(**{"requests_per_second": 1000, "max_sitemaps": 0, **kw})
    scope = Scope.of(server + "/docs/", settings)
    return Crawler(settings, scope, CrawlState(tmp_path), Fetcher(settings, scope))


def test_every_request_counts_toward_the_crawls_bound_and_the_report_is_bounded(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _site_of_refusals(60)
    crawler = _crawler(server, tmp_path, max_pages=2)  # max_requests unset: 3 x 2 pages
    crawler.run(lambda *_: None)
    assert len(SEEN) == 6 and crawler.report.requests == 6 and not crawler.report.complete
    assert crawler.report.stopped.startswith("stopped early: crawl.max_requests=6 requests made")
    SEEN.clear()
    monkeypatch.setattr(crawl, "_MAX_LISTED", 5)
    crawler = _crawler(server, tmp_path / "b", max_pages=100, max_requests=30)
    crawler.run(lambda *_: None)
    assert len(SEEN) == 30 and len(crawler.report.excluded) == 5 and crawler.report.unlisted == 23


def test_a_crawl_stops_at_its_time_bound_and_says_so(server: str, tmp_path: Path) -> None:
    _site_of_refusals(60)
    settings = {"max_seconds": 0.5, "requests_per_second": 10}
    crawler = _crawler(server, tmp_path, **settings)
    crawler.run(lambda *_: None)
    assert not crawler.report.complete and "crawl.max_seconds=0.5 s" in crawler.report.stopped
    assert len(SEEN) < 20  # at 10 requests a second, about 5 (60 without the bound)


def test_an_unreachable_robots_txt_is_reported_as_such(server: str, tmp_path: Path) -> None:
    ROUTES["/robots.txt"] = (503, {}, b"busy")
    ROUTES["/docs/"] = (200, HTML, PAGE)
    crawler = _crawler(server, tmp_path)
    crawler.run(lambda *_: None)
    assert crawler.report.excluded == [
        {
            "url": server + "/docs/",
            "reason": "robots.txt unreachable (HTTP 503): host not crawled; try again when it answers",
        }
    ]


def _inline(markdown: str, kind: str) -> list[Any]:
    tokens = markdown_it.MarkdownIt().parse(markdown)
    return [t for tok in tokens for t in (tok.children or []) if t.type == kind]


def test_a_crawled_pages_title_and_url_render_as_text_never_as_a_second_link() -> None:
    evil = "](https://evil.example/sso-login)[y"
    url = normalize(f"https://wiki.example/docs/x{evil}") or ""
    meta = _at_url(ChunkMeta(), url)
    title = f"Expenses{evil} <img src=x> *policy*"
    cite = Citation(1, url, meta.relpath, title, None, f"Intro{evil}", "text", 0, 4, 1.0)
    answer = SimpleNamespace(text="Claims are due in 30 days [1].", citations=[cite], cited=[1], notice=None, parts=())
    answer.removed = ()
    for markdown in (answer_markdown(answer), teams_markdown(answer, None)):  # type: ignore[arg-type]
        assert [t.attrs["href"] for t in _inline(markdown, "link_open")] == [source_link(url)]
        assert _inline(markdown, "html_inline") == [] and _inline(markdown, "em_open") == []
