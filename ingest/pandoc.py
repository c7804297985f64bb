"""EPUB, OpenDocument text (.odt) and RTF, converted to HTML by pandoc, then read as the HTML loader reads a page.

pandoc comes inside the `pypandoc-binary` wheel (nothing to install apart from the package). It runs as a child
process with `--sandbox` (it reads nothing but its standard input and fetches nothing), a heap limit and a time
limit (120 s for a file and everything it carries, such as an e-mail's attachments), so a hostile file costs at
most those. EPUB and ODT are zip packages: they are held to the archive limits
(ingest.max_unpacked_mb, max_compression_ratio, max_archive_entries) before pandoc unpacks them.
"""

from __future__ import annotations

import subprocess  # nosec B404 - pandoc is run from the wheel's own path, on stdin, with --sandbox
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.archives import ArchiveLimits, ArchiveRefused, check_archive
from ingest.documents import Document, SkipFile
from ingest.loaders import sections_from_elements

if TYPE_CHECKING:
    from ingest.budget import FileBudget

PANDOC_TIMEOUT_S = 120.0  # wall time one file's conversion may take
PANDOC_HEAP = "1g"  # pandoc's heap limit (its runtime's -M option)
_READERS = {"epub": "epub", "odt": "odt", "rtf": "rtf"}
_ZIPPED = ("epub", "odt")


def pandoc_path() -> str:
    """The pandoc binary shipped in pypandoc-binary; SkipFile with what to install when it is missing."""
    try:
        import pypandoc
    except ImportError as exc:
        raise SkipFile("reading this format needs pandoc: pip install pypandoc-binary") from exc
    path = Path(pypandoc.__file__).parent / "files" / "pandoc"
    if not path.is_file():
        raise SkipFile("reading this format needs pandoc: pip install pypandoc-binary")
    return str(path)


def to_html(data: bytes, file_type: str, timeout_s: float = PANDOC_TIMEOUT_S) -> str:
    """The file as a standalone HTML page (its title in <title>); SkipFile with pandoc's own reason on failure."""
    kind = file_type.upper()
    if timeout_s <= 0:
        raise SkipFile(f"no time left to convert this {kind} ({PANDOC_TIMEOUT_S:g} s per file); split the file")
    command = [pandoc_path(), "--sandbox", "-f", _READERS[file_type], "-t", "html5", "-s", "--wrap=none"]
    command += ["+RTS", f"-M{PANDOC_HEAP}", "-RTS"]
    try:
        done = subprocess.run(  # nosec B603 - fixed arguments, the file comes on stdin
            command, input=data, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SkipFile(f"{kind} took more than {timeout_s:g} s to convert; split the file") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        reason = " ".join(stderr.split())[-160:] or f"pandoc stopped with exit status {done.returncode}"
        if "heap exhausted" in stderr.lower():
            reason = f"needs more than {PANDOC_HEAP} of memory"
        raise SkipFile(f"cannot parse {kind} ({reason}); re-save it from its editor")
    return done.stdout.decode("utf-8", "replace")


class PandocLoader:
    """EPUB, ODT and RTF: pandoc's HTML, with headings, lists, code and tables (as rows with their headers) kept as
    the HTML loader keeps them."""

    file_types: tuple[str, ...] = ("epub", "odt", "rtf")

    def __init__(self, limits: ArchiveLimits | None = None) -> None:
        self._limits = limits or ArchiveLimits()

    def load(self, path: Path, data: bytes) -> Document:
        from ingest.budget import FileBudget

        return self.load_within(path, data, FileBudget(self._limits))

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document:
        from ingest.documents import file_type_of
        from ingest.webpages import html_title, list_item_texts, partitioner

        file_type = file_type_of(path) or "rtf"
        kind = file_type.upper()
        if file_type in _ZIPPED:
            if not data.startswith(b"PK\x03\x04"):
                raise SkipFile(f"not a valid {kind} (not a zip package); re-save it from its editor")
            try:
                check_archive(data, kind, self._limits)
            except ArchiveRefused as exc:
                raise SkipFile(str(exc)) from exc
        elif not data.lstrip().removeprefix(b"\xef\xbb\xbf").startswith(b"{\\rtf"):
            raise SkipFile("not a valid RTF (it does not begin with {\\rtf); re-save it from its editor")
        # one clock for the file and all it carries (an e-mail's attachments): the time left of PANDOC_TIMEOUT_S
        html = to_html(data, file_type, PANDOC_TIMEOUT_S - (time.monotonic() - budget.started))
        budget.take_chars(len(html), kind)
        try:
            elements = partitioner("html")(text=html)
            sections, first_heading, _ = sections_from_elements(elements, list_item_texts(html))
        except Exception as exc:  # lxml and unstructured raise many types on odd markup
            raise SkipFile(f"cannot parse {kind} ({type(exc).__name__}: {str(exc)[:120]})") from exc
        if not sections:
            raise SkipFile(f"no text found in this {kind} file")
        title = html_title(html.encode("utf-8"))
        if title in ("", "-"):  # pandoc's stand-in when the file names no title
            title = first_heading or path.stem
        return Document(path, file_type, title, tuple(sections))
