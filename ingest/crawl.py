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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from configs.errors import IngestError
from configs.settings import CrawlSettings
from ingest.crawlstate import CrawlState, PageRow, copy_name, site_folder
from ingest.lock import IndexLock

if TYPE_CHECKING:
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


class Refused(Exception):
    """A URL that is not fetched (or not kept); str() is the one-line reason."""


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
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


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


class Fetcher:
    """GETs with the crawl's limits: its rate, timeout, byte bound and redirects checked against the scope."""

    def __init__(self, settings: CrawlSettings, scope: Scope, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.scope = scope
        self._client = client
        self._next = 0.0
        self.delay = 1.0 / settings.requests_per_second
        self.requests = 0

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                follow_redirects=False,
                timeout=self.settings.timeout_s,
                headers={"user-agent": self.settings.user_agent},
                trust_env=False,  # no proxy or .netrc from the environment: the crawl goes where it is told
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
                raise Refused(f"cannot fetch ({type(exc).__name__}: {str(exc)[:120]})") from exc
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
        limit = self.settings.max_page_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(f"page is {int(declared)} bytes, over crawl.max_page_bytes={limit}")
        data = bytearray()
        deadline = time.monotonic() + self.settings.timeout_s  # the timeout bounds each read; this the whole body
        for part in response.iter_bytes():
            data += part
            if len(data) > limit:
                raise Refused(f"page is over crawl.max_page_bytes={limit}")
            if time.monotonic() > deadline:
                raise Refused(f"page took over crawl.timeout_s={self.settings.timeout_s:g} s to download")
        return bytes(data)

    def _wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + self.delay
        self.requests += 1


@dataclass
class CrawlReport:
    """What one crawl did (pages), and the index run over its mirror (ingest)."""

    site: str
    fetched: int = 0  # requests answered for pages
    stored: int = 0  # new or changed pages written to the mirror
    unchanged: int = 0  # 304, or the same bytes as the saved copy
    removed: int = 0  # pages gone, no longer HTML, disallowed or no longer reached
    complete: bool = True  # False: stopped at crawl.max_pages (pages not reached are then kept)
    excluded: list[dict[str, str]] = field(default_factory=list)  # not crawled by design: robots, scope, not HTML
    skipped: list[dict[str, str]] = field(default_factory=list)  # failed: the saved copy, if any, is kept
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


class Robots:
    """robots.txt of each host, fetched once per crawl: 4xx allows everything; an unreachable or failing one
    (5xx) disallows everything, as RFC 9309 asks."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._parsers: dict[str, RobotFileParser | None] = {}
        self.sitemaps: list[str] = []

    def _parser(self, url: str) -> RobotFileParser | None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._parsers:
            parser = RobotFileParser()
            try:
                got = self._fetcher.get(key + "/robots.txt")
            except Refused as exc:
                logger.warning("%s/robots.txt: %s; nothing on that host is crawled", key, exc)
                got = Fetched(key, 503, {})
            if got.status == 200:
                parser.parse(got.body.decode("utf-8", "replace").splitlines())
                self.sitemaps += [s for s in (parser.site_maps() or []) if normalize(s)]
            elif 400 <= got.status < 500:
                parser.parse([])  # no robots.txt: everything allowed
            else:
                parser.parse(["User-agent: *", "Disallow: /"])
            self._parsers[key] = parser
        return self._parsers[key]

    def allowed(self, url: str) -> bool:
        parser = self._parser(url)
        return parser is not None and parser.can_fetch(self._fetcher.settings.user_agent, url)

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
        except (Refused, ET.ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
            logger.info("sitemap %s not read: %s", url, exc)
            continue
        tag = root.tag.rsplit("}", 1)[-1]
        locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
        if tag == "sitemapindex":
            todo.extend(locs)
        else:
            yield from locs


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
        queue: deque[tuple[str, int]] = deque([(self.scope.start, 0)])
        queue.extend((u, 0) for u in sitemap_urls(self.fetcher, self.robots, self.scope) if self._in_scope(u))
        seen = self.seen
        while queue:
            url, depth = queue.popleft()
            if url in seen:
                continue
            if self.report.fetched >= self.settings.max_pages:
                self.report.complete = False
                break
            seen.add(url)
            if urlsplit(url).path.endswith(".xml") and url == self.scope.start:
                continue  # a sitemap given as the start: its pages are queued
            if not self.robots.allowed(url):
                self.report.excluded.append({"url": url, "reason": "disallowed by robots.txt"})
                continue
            self.fetcher.delay = max(
                1.0 / self.settings.requests_per_second, min(self.robots.delay(url), _MAX_CRAWL_DELAY)
            )
            links = self._page(url)
            progress("file", 1)
            if depth < self.settings.max_depth:
                for link in links:
                    if link not in seen and self._in_scope(link):
                        queue.append((link, depth + 1))

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
        except Exception as exc:  # noqa: BLE001 - one bad page never stops a crawl: it is reported with its reason
            reason = str(exc) if isinstance(exc, Refused) else f"cannot fetch ({type(exc).__name__}: {str(exc)[:120]})"
            if reason.startswith(("not an HTML page", "redirects to")):
                self.report.excluded.append({"url": url, "reason": reason})  # the saved copy, if any, goes
            else:
                self.report.skipped.append({"path": url, "reason": reason})
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
            self.report.skipped.append({"path": url, "reason": f"HTTP {got.status}; the saved copy, if any, is kept"})
            self.reached.add(url)
            return []
        links, noindex, nofollow = page_links(got.body, final)
        if noindex:
            self.report.excluded.append({"url": final, "reason": "the page asks not to be indexed (robots noindex)"})
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

    def prune(self) -> None:
        """Remove this crawl's pages it did not reach (all of them only when the crawl finished)."""
        for row in self.state.rows(self.scope.key):
            if row.url in self.reached:
                continue
            if not self.report.complete and self._in_scope(row.url) and self.robots.allowed(row.url):
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
