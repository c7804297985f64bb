"""`python -m eval bench-html DIR`: HTML loading, main content only (the loader) against the whole page (the one it
replaced), on folders of generated manuals.

For each page both loaders' documents are cut by the real chunker; a chunk is "chrome only" when, once the texts of
the page's navigation areas are taken out of it, fewer than CHROME_LEFT word characters remain. A navigation area
is what HTML marks as one (<nav>, <header>, <footer>, <aside>, role navigation/banner/contentinfo/complementary)
or what generators name so in a class or id (PostgreSQL's navheader/navfooter, Sphinx's related bars and sidebar,
Javadoc's topNav/subNav/bottomNav, anything with nav, breadcrumb, footer, sidebar, related or menu in it). Also:
a count of chunks with a link bar's words in order (NAV_BAR), of tiny chunks (fewer than CHROME_LEFT word
characters, chrome or not), characters kept against the whole page's, and pages per second of each loader (single
thread, no embedding).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

CHROME_LEFT = 20
_CHROME_TAGS = {"nav", "header", "footer", "aside"}
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary"}
_CHROME_NAMES = re.compile(r"nav|breadcrumb|footer|sidebar|related|menu", re.I)
_WORDCHARS = re.compile(r"\w")


def chrome_texts(data: bytes) -> list[str]:
    """The texts of a page's navigation areas (each area's whole text and each of its lines and link texts)."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(data)
    except Exception:  # an unparsable page has no areas to measure
        return []
    texts: set[str] = set()
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        names = f"{el.get('class', '')} {el.get('id', '')}"
        if el.tag in _CHROME_TAGS or el.get("role", "") in _CHROME_ROLES or _CHROME_NAMES.search(names):
            whole = " ".join(el.text_content().split())
            texts.add(whole)
            for sub in el.iter():
                if isinstance(sub.tag, str) and sub.tag in ("a", "th", "td", "li", "span", "p", "div"):
                    texts.add(" ".join(sub.text_content().split()))
    return sorted((t for t in texts if t), key=len, reverse=True)


def chrome_only(chunk: str, chrome: list[str]) -> bool:
    """Whether the chunk is navigation text: fewer than CHROME_LEFT word characters remain once the navigation texts
    are taken out, and those were at least half of its word characters (a short heading-only chunk is not chrome)."""
    rest = " ".join(chunk.split())
    for text in chrome:
        if text in rest:
            rest = rest.replace(text, " ")
    left, total = len(_WORDCHARS.findall(rest)), len(_WORDCHARS.findall(chunk))
    return left < CHROME_LEFT and total - left >= total / 2


# The second, independent count: a link bar's words in order (PostgreSQL "Prev Up ... Home Next", Sphinx
# "previous | next", Javadoc "Prev Class Next Class").
NAV_BAR = re.compile(r"\b(?:prev|previous)\b.{0,200}?\bnext\b", re.I | re.S)


def measure(folder: Path, chunker: Any, limit: int | None = None, only: str | None = None) -> dict[str, Any]:
    """Both loaders on the folder's pages (or `only` one of them: unstructured memoises some of its work on a text,
    so the second loader to read a page runs faster; time each in a process of its own)."""
    from ingest.loaders import Loader, SkipFile, UnstructuredLoader
    from ingest.webpages import HtmlLoader

    loaders: dict[str, Loader] = {"whole_page": UnstructuredLoader(), "main_content": HtmlLoader()}
    loaders = {k: v for k, v in loaders.items() if only in (None, k)}
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".html", ".htm") and p.is_file())
    if limit and len(paths) > limit:  # an even sample across the manual, not its first pages
        paths = paths[:: -(-len(paths) // limit)]
    for loader in loaders.values():  # warm up (imports, models) outside the timings
        loader.load(paths[0], paths[0].read_bytes())
    keys = ("pages", "skipped", "chunks", "chrome_only", "nav_bar", "tiny", "chars", "seconds")
    out: dict[str, Any] = {name: dict.fromkeys(keys, 0) for name in loaders}
    examples: list[str] = []
    for path in paths:
        data = path.read_bytes()
        chrome = chrome_texts(data)
        for name, loader in loaders.items():
            row = out[name]
            t0 = time.perf_counter()
            try:
                doc = loader.load(path, data)
            except SkipFile:
                row["skipped"] += 1
                continue
            row["seconds"] += time.perf_counter() - t0
            row["pages"] += 1
            row["chars"] += doc.chars
            pieces = chunker.split(doc)
            row["chunks"] += len(pieces)
            bad = [p.text for p in pieces if chrome_only(p.text, chrome)]
            row["chrome_only"] += len(bad)
            row["nav_bar"] += sum(bool(NAV_BAR.search(p.text)) for p in pieces)
            row["tiny"] += sum(len(_WORDCHARS.findall(p.text)) < CHROME_LEFT for p in pieces)
            if name == "main_content" and bad and len(examples) < 5:
                examples.append(f"{path.name}: {bad[0][:120]!r}")
    for row in out.values():
        for key in ("chrome_only", "nav_bar", "tiny"):
            row[f"{key}_share"] = round(row[key] / max(row["chunks"], 1), 4)
        row["pages_per_s"] = round(row["pages"] / row["seconds"], 1) if row["seconds"] else None
        row["seconds"] = round(row["seconds"], 1)
    if not only:
        out["main_content"]["chars_kept_share"] = round(
            out["main_content"]["chars"] / (out["whole_page"]["chars"] or 1), 4
        )
    out["main_content_chrome_examples"] = examples
    return out


def main(
    settings: Any, folders: list[Path], out: Path, limit: int | None = None, only: str | None = None
) -> dict[str, Any]:
    from ingest.chunking import Chunker
    from retrieval.embeddings import build_embedder

    embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
    chunker = Chunker(settings.chunking, embedder, embedder.max_tokens)
    result = {str(folder): measure(folder, chunker, limit, only) for folder in folders}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return result
