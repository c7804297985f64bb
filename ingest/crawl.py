"""Web sites as a source: `crawl_site` fetches a site's pages into a mirror inside the index (ingest/crawlstate.py),
then the ordinary Indexer brings the index in line with the mirror, each page's URL as its chunks' source.

What is fetched: http(s) only, on the allowed hosts (by default the start URL's, below its folder), robots.txt
honoured, the sitemaps it names (and /sitemap.xml) read, links followed to crawl.max_depth, at most crawl.max_pages
pages at crawl.requests_per_second. Redirects are followed by hand, each target checked like a link. A page must be
HTML and at most crawl.max_page_bytes. A re-crawl sends the stored ETag / Last-Modified; a page answered 304 or with
the same bytes is not written again; a page that is gone (404/410), no longer HTML, disallowed, or no longer reached
by a crawl that finished is removed. Using the index's own crash-safe writer, a crawl killed at any point leaves an
index that the next crawl completes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from configs.errors import IngestError
from configs.settings import CrawlSettings
from ingest.crawlstate import PATH_SAFE, QUERY_SAFE, CrawlState, PageRow, copy_name, site_folder
from ingest.lock import IndexLock

if TYPE_CHECKING:
    import httpcore
    import httpx

    from ingest.indexer import Indexer, IngestReport

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)
# Links to these are not pages: not even requested.
_NOT_PAGES = re.compile(
    r"\.(?:png|jpe?g|gif|svg|webp|ico|bmp|css|js|mjs|json|pdf|zip|gz|tgz|bz2|xz|tar|7z|rar|exe|dmg|deb|rpm|whl|"
    r"mp3|mp4|webm|ogg|wav|avi|mov|woff2?|ttf|eot|txt|csv|xml|epub)$",
    re.I,
)
_MAX_LINKS = 5000  # links read from one page
_MAX_CRAWL_DELAY = 60.0  # seconds; a longer robots.txt Crawl-delay is shortened to this
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_MAX_LISTED = 1000  # excluded / skipped URLs listed in a report; the rest are counted
# RFC 3986 pchar (and '/', '?' in a query) plus '%': anything else in a path or query (spaces, brackets, '<>', quotes,
# backticks, non-ASCII) is percent-encoded, so a URL cannot close a markdown link or carry markup into a citation.
_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|5[fF]|7[eE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA])")
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class Refused(Exception):
    """A URL that is not fetched (or not kept); str() is the one-line reason."""


class Exhausted(Refused):
    """The crawl's own budget is spent (crawl.max_requests or crawl.max_seconds): it stops here."""


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: '/a/./b/../c' -> '/a/c', so a link cannot walk out of a folder after the scope and robots.txt
    were checked (an escaped dot, '%2e', counts as a dot: servers decode it)."""
    segments = _UNRESERVED_ESCAPE.sub(lambda m: unquote(m.group(0)), path).split("/")
    out = [""]
    for segment in segments[1:]:
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # '/a/b/..' names the folder '/a/'
    return "/".join(out) or "/"


def normalize(href: str, base: str | None = None) -> str | None:
    """An absolute http(s) URL without fragment or credentials, host lower-cased, default port dropped; None for
    anything else (mailto:, javascript:, a malformed URL)."""
    try:
        parts = urlsplit(urljoin(base, href.strip()) if base else href.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii")  # an internationalized name as DNS spells it
        except UnicodeError:
            return None
        if not _HOST.fullmatch(host) or not host.strip("."):  # names a mirror folder: never "..", never a path
            return None
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    path = quote(remove_dot_segments(parts.path or "/"), safe=PATH_SAFE)
    query = quote(_UNRESERVED_ESCAPE.sub(lambda m: unquote(m.group(0)), parts.query), safe=QUERY_SAFE)
    return urlunsplit((scheme, host, path if path.startswith("/") else "/" + path, query, ""))


@dataclass(frozen=True)
class Scope:
    """What one crawl may fetch: http(s) on the allowed hosts; on the start host only below the start folder."""

    start: str
    host: str  # netloc of the start URL
    prefix: str  # path prefix on the start host
    hosts: frozenset[str]

    @classmethod
    def of(cls, url: str, settings: CrawlSettings) -> Scope:
        start = normalize(url)
        if start is None:
            raise IngestError(f"{url!r} is not an http(s) URL; give a site's start page or sitemap, e.g. https://host/")
        parts = urlsplit(start)
        prefix = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
        hosts = {h.lower() for h in settings.allowed_hosts} | {parts.netloc}
        return cls(start, parts.netloc, prefix, frozenset(hosts))

    @property
    def key(self) -> str:
        """The crawl's name in the state: the start host and folder."""
        return f"{urlsplit(self.start).scheme}://{self.host}{self.prefix}"

    def refusal(self, url: str) -> str | None:
        """Why a (normalized) URL is outside this crawl, or None."""
        parts = urlsplit(url)
        if parts.netloc not in self.hosts:
            return f"on another host ({parts.netloc}); add it to crawl.allowed_hosts to crawl it"
        if parts.netloc == self.host and not parts.path.startswith(self.prefix):
            return f"outside the crawled folder {self.prefix}"
        return None


@dataclass
class Fetched:
    """A response after the redirects: its final URL, status, headers (lower-case names) and body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""


class _Deadline:
    """The one deadline of the request in flight: every connect, write and read of its socket waits at most until
    then, so a server that sends its response head or body a byte at a time cannot hold a crawl (a per-read timeout
    restarts on every byte)."""

    def __init__(self) -> None:
        self.at = float("inf")  # time.monotonic() value

    def timeout(self, timeout: float | None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            import httpcore

            raise httpcore.ReadTimeout("the request's deadline passed")
        return left if timeout is None else min(timeout, left)


def _bounded_transport(deadline: _Deadline) -> httpx.HTTPTransport:
    """httpx's own transport over a network backend whose socket operations all end by the request's deadline."""
    import httpcore
    import httpx

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, deadline.timeout(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, deadline.timeout(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
            return Stream(self._inner.start_tls(ssl_context, server_hostname, deadline.timeout(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.SyncBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            inner = super().connect_tcp(host, port, deadline.timeout(timeout), local_address, socket_options)
            return Stream(inner)

    transport = httpx.HTTPTransport(trust_env=False)
    # The pool httpx builds, with the bounded backend (HTTPTransport takes no backend argument).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=10, network_backend=Backend()
    )
    return transport


class Fetcher:
    """GETs with the crawl's limits: its rate, one deadline per request, byte bound and redirects checked against
    the scope; and the crawl's own budget (crawl.max_requests, crawl.max_seconds)."""

    def __init__(self, settings: CrawlSettings, scope: Scope, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.scope = scope
        self._client = client
        self._next = 0.0
        self.delay = 1.0 / settings.requests_per_second
        self.requests = 0
        self.max_requests = settings.max_requests or 3 * settings.max_pages + settings.max_sitemaps
        self.ends = time.monotonic() + settings.max_seconds  # the whole crawl's deadline
        self._deadline = _Deadline()

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                follow_redirects=False,
                timeout=self.settings.timeout_s,
                # One coding at most, one we decode ourselves within crawl.max_page_bytes (_read).
                headers={"user-agent": self.settings.user_agent, "accept-encoding": "gzip, deflate"},
                trust_env=False,  # no proxy or .netrc from the environment: the crawl goes where it is told
                transport=_bounded_transport(self._deadline),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def get(self, url: str, headers: dict[str, str] | None = None, html_only: bool = False) -> Fetched:
        """The response to GET url (redirects followed within the scope), or Refused with the reason."""
        import httpx

        for _ in range(self.settings.max_redirects + 1):
            self._wait()
            self._deadline.at = min(time.monotonic() + self.settings.timeout_s, self.ends)
            try:
                with self.client.stream("GET", url, headers=headers or {}) as response:
                    fetched = Fetched(url, response.status_code, {k.lower(): v for k, v in response.headers.items()})
                    if response.status_code in _REDIRECTS:
                        url = self._redirect(url, fetched.headers.get("location", ""), html_only)
                        continue
                    if response.status_code == 200:
                        kind = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
                        if html_only and kind not in _HTML_TYPES:
                            raise Refused(f"not an HTML page (content-type {kind or 'missing'})")
                        fetched.body = self._read(response)
                    return fetched
            except httpx.HTTPError as exc:
                if time.monotonic() >= self._deadline.at:
                    if self._deadline.at >= self.ends:
                        raise Exhausted(self._over_time()) from exc
                    raise Refused(
                        f"took over crawl.timeout_s={self.settings.timeout_s:g} s (connect, response head and body)"
                    ) from exc
                raise Refused(f"cannot fetch ({type(exc).__name__}: {str(exc)[:120]})") from exc
            finally:
                self._deadline.at = float("inf")
        raise Refused(f"more than crawl.max_redirects={self.settings.max_redirects} redirects")

    def _redirect(self, url: str, location: str, page: bool) -> str:
        """The checked target of a redirect: a page's stays in the scope; robots.txt's and a sitemap's on its hosts."""
        target = normalize(location, url) if location else None
        if target is None:
            raise Refused(f"redirects to a non-http(s) or malformed location {location[:120]!r}")
        why = self.scope.refusal(target)
        if why is not None and (page or urlsplit(target).netloc not in self.scope.hosts):
            raise Refused(f"redirects to {target}, {why}")
        return target

    def _read(self, response: httpx.Response) -> bytes:
        """The body, decoded (one gzip or deflate coding at most) within crawl.max_page_bytes: never more is
        unpacked, however well it compresses."""
        limit = self.settings.max_page_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(f"page is {int(declared)} bytes, over crawl.max_page_bytes={limit}")
        header = response.headers.get("content-encoding", "")
        codings = [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in _CODINGS):
            raise Refused(f"content-encoding {header[:60]!r} not accepted; the crawler reads one of gzip, deflate")
        coding = codings[0] if codings else ""
        decoder: Any = None
        data = bytearray()
        raw = 0
        deadline = time.monotonic() + self.settings.timeout_s  # the socket's deadline holds too; this names it
        try:
            for part in response.iter_raw():
                raw += len(part)
                if raw > limit:
                    raise Refused(f"page is over crawl.max_page_bytes={limit}")
                if not coding:
                    data += part
                else:
                    if decoder is None:
                        decoder = zlib.decompressobj(_wbits(coding, part))
                    pending = part
                    while pending and not decoder.eof:
                        data += decoder.decompress(pending, limit + 1 - len(data))
                        if len(data) > limit:
                            raise Refused(f"page is over crawl.max_page_bytes={limit} decoded ({coding})")
                        pending = decoder.unconsumed_tail
                if len(data) > limit:
                    raise Refused(f"page is over crawl.max_page_bytes={limit}")
                if time.monotonic() > deadline:
                    raise Refused(f"page took over crawl.timeout_s={self.settings.timeout_s:g} s to download")
        except zlib.error as exc:
            raise Refused(f"its {coding} body cannot be decoded ({exc})") from exc
        return bytes(data)

    def _wait(self) -> None:
        if self.requests >= self.max_requests:
            raise Exhausted(
                f"crawl.max_requests={self.max_requests} requests made (robots, sitemaps, pages, redirects)"
            )
        now = time.monotonic()
        if now >= self.ends:
            raise Exhausted(self._over_time())
        if now < self._next:
            time.sleep(min(self._next - now, max(0.0, self.ends - now)))
        self._next = max(now, self._next) + self.delay
        self.requests += 1

    def _over_time(self) -> str:
        return f"the crawl ran for crawl.max_seconds={self.settings.max_seconds:g} s"


def _wbits(coding: str, first: bytes) -> int:
    """zlib's window bits for a body: gzip's; deflate as RFC 9110 says (zlib-wrapped), or raw as some servers send."""
    if coding != "deflate":
        return _CODINGS[coding]
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


@dataclass
class CrawlReport:
    """What one crawl did (pages), and the index run over its mirror (ingest)."""

    site: str
    fetched: int = 0  # requests answered for pages
    stored: int = 0  # new or changed pages written to the mirror
    unchanged: int = 0  # 304, or the same bytes as the saved copy
    removed: int = 0  # pages gone, no longer HTML, disallowed or no longer reached
    complete: bool = True  # False: stopped early (pages not reached are then kept)
    stopped: str = ""  # why it stopped early: crawl.max_pages, crawl.max_requests or crawl.max_seconds
    requests: int = 0  # HTTP requests made, every one (robots.txt, sitemaps, redirects, refused pages)
    excluded: list[dict[str, str]] = field(default_factory=list)  # not crawled by design: robots, scope, not HTML
    skipped: list[dict[str, str]] = field(default_factory=list)  # failed: the saved copy, if any, is kept
    unlisted: int = 0  # excluded or skipped URLs past the first _MAX_LISTED of each, counted only
    crawl_seconds: float = 0.0  # fetching and saving pages
    seconds: float = 0.0  # the whole run, indexing included
    ingest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ingest report with the crawl's own numbers under 'crawl' (the CLI's --json line)."""
        crawl = {k: v for k, v in asdict(self).items() if k != "ingest"}
        out = dict(self.ingest)
        out["skipped"] = list(out.get("skipped", [])) + self.skipped
        out["crawl"] = crawl
        return out

    def exclude(self, url: str, reason: str) -> None:
        if len(self.excluded) < _MAX_LISTED:
            self.excluded.append({"url": url, "reason": reason})
        else:
            self.unlisted += 1

    def skip(self, url: str, reason: str) -> None:
        if len(self.skipped) < _MAX_LISTED:
            self.skipped.append({"path": url, "reason": reason})
        else:
            self.unlisted += 1


class Robots:
    """robots.txt of each host, fetched once per crawl: 4xx allows everything; an unreachable or failing one
    (5xx) disallows everything, as RFC 9309 asks."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._parsers: dict[str, RobotFileParser | None] = {}
        self._closed: dict[str, str] = {}  # host -> why its robots.txt shuts it (unreachable, 5xx)
        self.sitemaps: list[str] = []

    def _parser(self, url: str) -> RobotFileParser | None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._parsers:
            parser = RobotFileParser()
            try:
                got = self._fetcher.get(key + "/robots.txt")
                failure = f"HTTP {got.status}"
            except Exhausted:
                raise  # not known: the crawl stops
            except Refused as exc:
                got, failure = Fetched(key, 503, {}), str(exc)
            if got.status == 200:
                parser.parse(got.body.decode("utf-8", "replace").splitlines())
                self.sitemaps += [s for s in (parser.site_maps() or []) if normalize(s)]
            elif 400 <= got.status < 500:
                parser.parse([])  # no robots.txt: everything allowed
            else:
                parser.parse(["User-agent: *", "Disallow: /"])
                self._closed[key] = f"robots.txt unreachable ({failure}): host not crawled; try again when it answers"
                logger.warning("%s/robots.txt: %s; nothing on that host is crawled", key, failure)
            self._parsers[key] = parser
        return self._parsers[key]

    def allowed(self, url: str) -> bool:
        parser = self._parser(url)
        return parser is not None and parser.can_fetch(self._fetcher.settings.user_agent, url)

    def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps url out (disallowed, or the host's robots.txt unreachable), or None."""
        if self.allowed(url):
            return None
        parts = urlsplit(url)
        return self._closed.get(f"{parts.scheme}://{parts.netloc}", "disallowed by robots.txt")

    def delay(self, url: str) -> float:
        parser = self._parser(url)
        value = parser.crawl_delay(self._fetcher.settings.user_agent) if parser else None
        return float(value or 0.0)


def sitemap_urls(fetcher: Fetcher, robots: Robots, scope: Scope) -> Iterator[str]:
    """The page URLs the site's sitemaps list (robots.txt's Sitemap lines, else /sitemap.xml; sitemap indexes
    followed), at most crawl.max_sitemaps files."""
    import defusedxml.ElementTree as ET  # a sitemap is outside input: no entity expansion

    start = urlsplit(scope.start)
    robots.allowed(scope.start)  # reads robots.txt, and so its Sitemap lines
    todo = deque(robots.sitemaps or [f"{start.scheme}://{start.netloc}/sitemap.xml"])
    if start.path.endswith(".xml"):
        todo.appendleft(scope.start)
    seen: set[str] = set()
    while todo and len(seen) < fetcher.settings.max_sitemaps:
        url = normalize(todo.popleft())
        if url is None or url in seen or urlsplit(url).netloc not in scope.hosts:
            continue
        seen.add(url)
        try:
            got = fetcher.get(url)
            if got.status != 200:
                continue
            root = ET.fromstring(got.body)
        except Exhausted:
            return
        except (Refused, ET.ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
            logger.info("sitemap %s not read: %s", url, exc)
            continue
        tag = root.tag.rsplit("}", 1)[-1]
        locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
        if tag == "sitemapindex":
            todo.extend(locs)
        else:  # normalized like a link: no dot segments past the scope or robots.txt
            yield from (u for u in map(normalize, locs) if u is not None)


def page_links(html: bytes, url: str) -> tuple[list[str], bool, bool]:
    """(the page's links as absolute URLs, whether robots meta says noindex, nofollow)."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except Exception:  # lxml raises several types on markup it cannot read
        return [], False, False
    robots = " ".join(m.get("content", "") for m in tree.iter("meta") if (m.get("name") or "").lower() == "robots")
    base = next((b.get("href") for b in tree.iter("base") if b.get("href")), None)
    base_url = normalize(base, url) if base else url
    links = []
    for a in tree.iter("a", "area"):
        href = a.get("href")
        if href and "nofollow" not in (a.get("rel") or "").lower():
            target = normalize(href, base_url or url)
            if target:
                links.append(target)
        if len(links) >= _MAX_LINKS:
            break
    flags = robots.lower()
    return links, "noindex" in flags or "none" in flags, "nofollow" in flags or "none" in flags


def _title(html: bytes) -> str:
    from ingest.loaders import _html_title

    return _html_title(html)


class Crawler:
    """One crawl of one site into the mirror."""

    def __init__(self, settings: CrawlSettings, scope: Scope, state: CrawlState, fetcher: Fetcher) -> None:
        self.settings = settings
        self.scope = scope
        self.state = state
        self.fetcher = fetcher
        self.robots = Robots(fetcher)
        self.report = CrawlReport(scope.start)
        self.reached: set[str] = set()  # URLs whose saved copy (if any) stays
        self.seen: set[str] = set()  # URLs asked for (or reached through a redirect) in this crawl

    def run(self, progress: Callable[[str, int], None]) -> None:
        try:
            self._run(progress)
        except Exhausted as exc:
            self._stop(str(exc))
        finally:
            self.report.requests = self.fetcher.requests

    def _stop(self, why: str) -> None:
        self.report.complete = False
        self.report.stopped = f"stopped early: {why}; pages not reached keep their saved copies"

    def _run(self, progress: Callable[[str, int], None]) -> None:
        queue: deque[tuple[str, int]] = deque([(self.scope.start, 0)])
        queued = {self.scope.start}
        # Every URL queued costs a request at least, so more than the crawl may make are never kept.
        room = self.fetcher.max_requests
        for u in sitemap_urls(self.fetcher, self.robots, self.scope):
            if u not in queued and self._in_scope(u) and len(queue) < room:
                queue.append((u, 0))
                queued.add(u)
        seen = self.seen
        while queue:
            url, depth = queue.popleft()
            if url in seen:
                continue
            if self.report.fetched >= self.settings.max_pages:
                self._stop(f"crawl.max_pages={self.settings.max_pages} pages fetched")
                break
            seen.add(url)
            if urlsplit(url).path.endswith(".xml") and url == self.scope.start:
                continue  # a sitemap given as the start: its pages are queued
            why = self.robots.refusal(url)
            if why is not None:
                self.report.exclude(url, why)
                continue
            self.fetcher.delay = max(
                1.0 / self.settings.requests_per_second, min(self.robots.delay(url), _MAX_CRAWL_DELAY)
            )
            links = self._page(url)
            progress("file", 1)
            if depth < self.settings.max_depth:
                for link in links:
                    if link not in seen and link not in queued and self._in_scope(link):
                        if len(queue) >= room:
                            self.report.complete = False  # a page left out: the crawl did not see the whole site
                            break
                        queue.append((link, depth + 1))
                        queued.add(link)

    def _in_scope(self, url: str) -> bool:
        why = self.scope.refusal(url)
        return why is None and not _NOT_PAGES.search(urlsplit(url).path)

    def _page(self, url: str) -> list[str]:
        """Fetch one page and update the mirror; its links."""
        old = self.state.get(url)
        headers = {}
        if old is not None and old.site == self.scope.key and self.state.path(old).is_file():
            if old.etag:
                headers["if-none-match"] = old.etag
            if old.last_modified:
                headers["if-modified-since"] = old.last_modified
        try:
            got = self.fetcher.get(url, headers, html_only=True)
        except Exhausted:
            self.reached.add(url)
            raise
        except Exception as exc:  # noqa: BLE001 - one bad page never stops a crawl: it is reported with its reason
            reason = str(exc) if isinstance(exc, Refused) else f"cannot fetch ({type(exc).__name__}: {str(exc)[:120]})"
            if reason.startswith(("not an HTML page", "redirects to")):
                self.report.exclude(url, reason)  # the saved copy, if any, goes
            else:
                self.report.skip(url, reason)
                self.reached.add(url)
            return []
        self.report.fetched += 1
        final = got.url
        if final != url:
            if final in self.seen:
                return []  # a redirect to a page this crawl already has
            self.seen.add(final)
        if got.status == 304 and old is not None:
            self.reached.add(url)
            self.report.unchanged += 1
            return page_links(self.state.path(old).read_bytes(), url)[0]
        if got.status in (404, 410):
            return []  # not reached: its copy, if any, is removed at the end
        if got.status != 200:
            self.report.skip(url, f"HTTP {got.status}; the saved copy, if any, is kept")
            self.reached.add(url)
            return []
        links, noindex, nofollow = page_links(got.body, final)
        if noindex:
            self.report.exclude(final, "the page asks not to be indexed (robots noindex)")
            return [] if nofollow else links
        self.reached.add(final)
        digest = hashlib.sha256(got.body).hexdigest()
        current = self.state.get(final)
        same = current is not None and current.hash == digest and self.state.path(current).is_file()
        row = PageRow(
            final,
            self.scope.key,
            copy_name(final),
            got.headers.get("etag", ""),
            got.headers.get("last-modified", ""),
            digest,
            _title(got.body),
            time.time(),
        )
        self.state.save(row, None if same else got.body)
        if same:
            self.report.unchanged += 1
        else:
            self.report.stored += 1
        return [] if nofollow else links

    def _allowed_or_unknown(self, url: str) -> bool:
        try:
            return self.robots.allowed(url)
        except Exhausted:
            return True  # its robots.txt is not read this time: the copy is kept

    def prune(self) -> None:
        """Remove this crawl's pages it did not reach (all of them only when the crawl finished)."""
        for row in self.state.rows(self.scope.key):
            if row.url in self.reached:
                continue
            if not self.report.complete and self._in_scope(row.url) and self._allowed_or_unknown(row.url):
                continue  # not reached because the crawl stopped early: kept
            self.state.forget(row)
            self.report.removed += 1


def crawl_site(
    url: str,
    index_dir: Path,
    settings: CrawlSettings,
    indexer: Indexer,
    progress: Callable[[str, int], None] | None = None,
    client: httpx.Client | None = None,
) -> CrawlReport:
    """Crawl the site at url (a start page or a sitemap) into the index's mirror and index what changed; for the
    CLI and for scheduled re-crawls."""
    started = time.perf_counter()
    scope = Scope.of(url, settings)
    progress = progress or (lambda _event, _n: None)
    state = CrawlState(index_dir)
    fetcher = Fetcher(settings, scope, client)
    try:
        with IndexLock(state.root):  # one crawl per index at a time (the indexer holds the index's own lock)
            state.reconcile()
            crawler = Crawler(settings, scope, state, fetcher)
            crawler.run(progress)
            crawler.prune()
            crawler.report.crawl_seconds = time.perf_counter() - started
            folders = {site_folder(r.url) for r in state.rows(scope.key)} | {site_folder(scope.start)}
            roots = [state.root / f for f in sorted(folders)]
            for root in roots:
                root.mkdir(parents=True, exist_ok=True)
            ingest: IngestReport = indexer.run(roots, urls=state.urls(folders))
    finally:
        fetcher.close()
        state.close()
    report = crawler.report
    report.ingest = asdict(ingest)
    report.seconds = time.perf_counter() - started
    return report
