"""HTML pages, main content only: the navigation bars, headers, footers and site boilerplate around a page's text are
not indexed.

First what the page itself marks as chrome goes: <nav>, <aside>, a <header> or <footer> outside the article, and
the ARIA landmarks navigation, banner, contentinfo, complementary and search. Then trafilatura decides what the
rest's main content is (it also knows generators' link bars and boilerplate that carry no such markup); unstructured
still partitions the page, so headings,
sections and tables keep their structure. An element is kept when trafilatura's main text contains it (a long
element as a run of words, a short one as a whole line of its own, so "Next" in a link bar does not match a
"next" in a sentence); a heading is kept when it heads kept content. Where trafilatura finds nothing (a tiny page)
the whole page is read as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.loaders import Document, Section, SkipFile, decode_text, sections_from_elements
from ingest.loaders import _html_title as html_title
from ingest.loaders import _partitioner as partitioner

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
SHORT_WORDS = 4  # an element of fewer words must be a whole line of the main text to count as content
RUN_SHARE = 0.8  # a long element that trafilatura reflowed: this share of its word trigrams is in the main text
SHORT_RUN = 3  # word characters a run of short elements between kept ones must have to be matched


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class MainText:
    """trafilatura's main text of a page, for asking whether an element's text belongs to it."""

    def __init__(self, text: str) -> None:
        words = _words(text)
        self._joined = " " + " ".join(words) + " "
        self._lines = {" ".join(_words(line)) for line in text.splitlines()}
        self._trigrams = set(zip(words, words[1:], words[2:], strict=False))
        self._squashed = "".join(words)  # trafilatura runs a grid's cells together ("TypeMethodvoiddelete()")

    def contains(self, text: str) -> bool:
        words = _words(text)
        if not words:
            return False
        key = " ".join(words)
        if len(words) < SHORT_WORDS:
            return key in self._lines
        if f" {key} " in self._joined:
            return True
        grams = list(zip(words, words[1:], words[2:], strict=False))
        return bool(grams) and sum(g in self._trigrams for g in grams) >= RUN_SHARE * len(grams)

    def contains_run(self, texts: Sequence[str]) -> bool:
        """Whether elements that follow each other are, run together, in the main text (a grid of short cells)."""
        squashed = "".join("".join(_words(t)) for t in texts)
        return len(squashed) >= SHORT_RUN and squashed in self._squashed


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")  # lxml refuses a str that declares its encoding (XHTML pages)


def _tree(html: str) -> Any:
    import lxml.html

    return lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1))


_CHROME_TAGS = ("nav", "aside")
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
_CONTENT_TAGS = {"article", "main", "section"}


def strip_chrome(html: str) -> str:
    """The page without the parts its markup declares navigation or page chrome (unchanged if it cannot be parsed)."""
    import lxml.html

    try:
        tree = _tree(html)
    except Exception:  # lxml raises several types on markup it cannot read; partitioning then reports it
        return html
    doomed = []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        role = (el.get("role") or "").strip().lower()
        boxed = el.tag in ("header", "footer") and not any(a.tag in _CONTENT_TAGS for a in el.iterancestors())
        if el.tag in _CHROME_TAGS or role in _CHROME_ROLES or boxed:
            doomed.append(el)
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()
    return str(lxml.html.tostring(tree, encoding="unicode"))


def list_item_texts(html: str) -> frozenset[str]:
    """The texts of the page's list items (<li>: its own text without a nested list's, and each paragraph in it),
    whitespace normalised; empty when the page cannot be parsed."""
    try:
        tree = _tree(html)
    except Exception:  # lxml raises several types on markup it cannot read
        return frozenset()
    texts: set[str] = set()
    for li in tree.iter("li"):
        own = [li.text or ""]
        for child in li:
            if isinstance(child.tag, str) and child.tag not in ("ul", "ol", "dl"):
                own.append(child.text_content())
            own.append(child.tail or "")
        texts.add(" ".join("".join(own).split()))
        texts.update(  # its own paragraphs, not those of a definition list or a list nested in it
            " ".join(p.text_content().split())
            for p in li.iter("p", "div")
            if next(p.iterancestors("li", "dd", "dt"), None) is li
        )
    return frozenset(texts)


def main_text(html: str) -> str:
    """trafilatura's main text of a page ('' when it finds none)."""
    import trafilatura

    try:
        out = trafilatura.extract(
            html,
            output_format="txt",
            include_tables=True,
            include_comments=False,
            include_links=False,
            favor_recall=True,
            deduplicate=False,
        )
    except Exception as exc:  # an extractor bug on one page: read the whole page instead
        logger.warning("main-content extraction failed (%s: %s); the whole page is read", type(exc).__name__, exc)
        return ""
    return out or ""


def keep_main(elements: Sequence[Any], main: MainText) -> list[Any]:
    """The elements that are the page's main content: text in it, and the headings above such text."""
    is_title = [getattr(el, "category", "") == "Title" for el in elements]
    texts = [getattr(el, "text", "") or "" for el in elements]
    kept = [not t and main.contains(text) for text, t in zip(texts, is_title, strict=True)]
    # A run of elements after a heading or kept content and before kept content that is in the main text as a whole
    # is content too (the cells of a grid, which trafilatura runs together).
    i = 0
    while i < len(elements):
        if kept[i] or is_title[i]:
            i += 1
            continue
        j = i
        while j < len(elements) and not kept[j] and not is_title[j]:
            j += 1
        after_content = i > 0 and (kept[i - 1] or is_title[i - 1])
        if after_content and j < len(elements) and kept[j] and main.contains_run(texts[i:j]):
            kept[i:j] = [True] * (j - i)
        i = j
    for i, el in enumerate(elements):
        if not is_title[i]:
            continue
        depth = getattr(el.metadata, "category_depth", None) or 0
        heads_content = False
        for j in range(i + 1, len(elements)):
            if is_title[j] and (getattr(elements[j].metadata, "category_depth", None) or 0) <= depth:
                break
            if kept[j]:
                heads_content = True
                break
        kept[i] = heads_content
    return [el for i, el in enumerate(elements) if kept[i]]


class HtmlLoader:
    """HTML, main content only (see the module's docstring); headings nest into sections as for other formats."""

    file_types: tuple[str, ...] = ("html",)

    def load(self, path: Path, data: bytes) -> Document:
        html = decode_text(data, "HTML")
        partition = partitioner("html")
        sections: list[Section] = []
        first_heading = ""
        try:
            stripped = strip_chrome(html)
            main = main_text(stripped)
            items = list_item_texts(html)
            if main.strip():
                elements = partition(text=stripped)
                sections, first_heading, _ = sections_from_elements(keep_main(elements, MainText(main)), items)
            if not sections:  # trafilatura found nothing (a tiny page, an index): the page less its declared chrome
                sections, first_heading, _ = sections_from_elements(partition(text=stripped), items)
            if not sections:  # nothing but declared chrome: the whole page, as before
                sections, first_heading, _ = sections_from_elements(partition(text=html), items)
        except Exception as exc:  # lxml and unstructured raise many types on damaged markup
            raise SkipFile(f"cannot parse HTML ({type(exc).__name__}: {str(exc)[:120]})") from exc
        if not sections:
            raise SkipFile("no text found in this HTML file")
        title = html_title(data) or first_heading or path.stem
        return Document(path, "html", title, tuple(sections))
