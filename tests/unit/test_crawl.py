import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from configs.settings import CrawlSettings
from ingest.crawl import Fetcher, Refused, Scope, normalize, page_links
from serving.answer.citations import source_link

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
