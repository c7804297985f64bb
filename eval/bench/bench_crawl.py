"""`python -m eval bench-crawl DIR`: crawl a folder of HTML (a generated manual) served on loopback, then crawl it
again: pages per second of the fetch phase and of the whole run (indexing included), and what the re-crawl
re-fetched (the server answers If-Modified-Since with 304, as Python's file server does)."""

from __future__ import annotations

import functools
import json
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def main(settings: Any, folder: Path, out: Path, max_pages: int) -> dict[str, Any]:
    from ingest.crawl import crawl_site
    from ingest.indexer import build_indexer

    crawl = settings.crawl.model_copy(update={"max_pages": max_pages, "requests_per_second": 1000.0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    start = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crawl-") as index:
            for name in ("first", "again"):
                indexer = build_indexer(settings, index_dir=Path(index))
                report = crawl_site(start, Path(index), crawl, indexer)
                indexer.close()
                fetched = max(report.fetched, 1)
                runs.append(
                    {
                        "run": name,
                        "fetched": report.fetched,
                        "stored": report.stored,
                        "unchanged": report.unchanged,
                        "chunks_written": report.ingest.get("chunks_written", 0),
                        "crawl_seconds": round(report.crawl_seconds, 2),
                        "seconds": round(report.seconds, 2),
                        "crawl_pages_per_s": round(fetched / max(report.crawl_seconds, 1e-9), 1),
                        "pages_per_s": round(fetched / max(report.seconds, 1e-9), 1),
                    }
                )
    finally:
        server.shutdown()
        server.server_close()
    result = {"folder": str(folder), "max_pages": max_pages, "runs": runs}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return result
