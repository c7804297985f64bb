"""`python -m eval bench-pdf DIR`: PDF text extraction, PDFium (the loader) against pypdf (the one it replaced).

For each PDF under DIR: pages, characters and seconds with each library, and how far their texts agree: the
Jaccard overlap of each page's word sets (averaged over pages), plus one page from the middle of each file printed
side by side for a spot check. Single thread, one file at a time, text only.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+")


def _pypdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data), strict=False).pages]


def _pdfium_pages(path: Path, data: bytes) -> list[str]:
    from ingest.loaders import PdfLoader

    doc = PdfLoader().load(path, data)
    pages = [""] * doc.pages
    for section in doc.sections:
        assert section.page is not None
        pages[section.page - 1] = section.text
    return pages


def _jaccard(a: str, b: str) -> float:
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return 1.0 if not wa and not wb else len(wa & wb) / len(wa | wb)


def compare(folder: Path, spot_chars: int = 300) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.pdf")):
        data = path.read_bytes()
        t0 = time.perf_counter()
        old = _pypdf_pages(data)
        t1 = time.perf_counter()
        new = _pdfium_pages(path, data)
        t2 = time.perf_counter()
        agree = [_jaccard(a, b) for a, b in zip(old, new, strict=False)]
        mid = len(new) // 2
        files.append(
            {
                "file": path.name,
                "pages": {"pypdf": len(old), "pdfium": len(new)},
                "chars": {"pypdf": sum(map(len, old)), "pdfium": sum(map(len, new))},
                "seconds": {"pypdf": round(t1 - t0, 2), "pdfium": round(t2 - t1, 2)},
                "word_jaccard_mean": round(sum(agree) / len(agree), 4) if agree else None,
                "spot_page": mid + 1,
                "spot": {"pypdf": old[mid][:spot_chars], "pdfium": new[mid][:spot_chars]} if new else {},
            }
        )
    total: dict[str, Any] = {"files": len(files)}
    for key in ("pages", "chars", "seconds"):
        total[key] = {lib: round(sum(f[key][lib] for f in files), 2) for lib in ("pypdf", "pdfium")}
    total["pages_per_s"] = {
        lib: round(total["pages"][lib] / total["seconds"][lib], 1) if total["seconds"][lib] else None
        for lib in ("pypdf", "pdfium")
    }
    pages = sum(f["pages"]["pdfium"] for f in files) or 1
    total["word_jaccard_mean"] = round(
        sum((f["word_jaccard_mean"] or 0) * f["pages"]["pdfium"] for f in files) / pages, 4
    )
    return {"total": total, "files": files}


def main(folder: Path, out: Path) -> dict[str, Any]:
    result = compare(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["total"]))
    return result
