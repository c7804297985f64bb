"""`python -m ingest PATH...`: index folders of documents (incremental), list or remove what is indexed;
`python -m ingest URL`: crawl a web site (its start page or sitemap) and index its pages (incremental).

Exit status: 0 every file indexed, 3 some files skipped (see the report), 1 fatal error, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from configs.audit import AuditLog, cli_operator
from configs.errors import KBError
from configs.loading import load_settings, offline_environment
from configs.logs import configure_logging
from configs.progress import progress_bar

if TYPE_CHECKING:  # imported lazily at run time: `--help` and argument errors stay instant
    from configs.settings import IngestSettings, Settings
    from ingest.indexer import Indexer, IngestReport

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    p.add_argument("paths", nargs="*", help="files or folders to index, or one web site's URL (http(s)://...)")
    p.add_argument("--index", type=Path, help="index directory (default: index.path, env KB_INDEX__PATH)")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml (default: default)")
    p.add_argument("--json", action="store_true", help="print the run report as one JSON line (last line)")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="parse and embed on this Ray cluster (e.g. 127.0.0.1:6379; default: ingest.ray_address, "
        "env KB_INGEST__RAY_ADDRESS; unset: in this process)",
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="after indexing, keep watching the folders and apply every change within seconds (Ctrl-C stops); "
        "see ingest.watch_debounce_s",
    )
    p.add_argument("--list", action="store_true", help="list indexed files and exit")
    p.add_argument("--remove", action="store_true", help="remove the given paths from the index")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return p


def _summary(report: object) -> str:
    r = report  # IngestReport; typed loosely to keep the import lazy
    seconds = max(getattr(r, "seconds", 0.0), 1e-9)
    lines = [
        f"files: {r.files_seen} seen, {r.new} new, {r.changed} changed, {r.moved} moved, "  # type: ignore[attr-defined]
        f"{r.deleted} deleted, {r.unchanged} unchanged, {len(r.skipped)} skipped",  # type: ignore[attr-defined]
        f"chunks: {r.chunks_written} written, {r.chunks_removed} removed "  # type: ignore[attr-defined]
        f"in {seconds:.1f} s ({r.pages / seconds:.1f} pages/s, "  # type: ignore[attr-defined]
        f"{r.chunks_written / seconds:.1f} chunks/s)",  # type: ignore[attr-defined]
    ]
    for s in r.skipped:  # type: ignore[attr-defined]
        lines.append(f"skipped {s['path']}: {s['reason']}")
    for n in r.notes:  # type: ignore[attr-defined]
        lines.append(f"note {n['path']}: {n['note']}")
    for w in getattr(r, "warnings", []):
        lines.append(f"warning {w['path']}: {w['warning']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    if not args.list and not args.paths:
        _parser().print_usage(sys.stderr)
        print("error: give files or folders to index (or --list)", file=sys.stderr)
        return EXIT_USAGE
    if args.watch and (args.list or args.remove):
        print("error: --watch keeps folders in sync; it cannot be combined with --list or --remove", file=sys.stderr)
        return EXIT_USAGE
    urls = [p for p in args.paths if _URL.match(p)]
    if urls and (len(args.paths) > 1 or args.list or args.remove):
        print("error: give one URL per run, without other paths, --list or --remove", file=sys.stderr)
        return EXIT_USAGE
    if urls and not urls[0].lower().startswith(("http://", "https://")):
        print(f"error: {urls[0]!r}: only http(s) sites can be crawled", file=sys.stderr)
        return EXIT_USAGE
    args.paths = [Path(p) for p in args.paths] if not urls else []
    try:
        settings = load_settings(args.profile)
        if args.ray:
            settings = settings.model_copy(
                update={"ingest": settings.ingest.model_copy(update={"ray_address": args.ray})}
            )
        missing = [str(p) for p in args.paths if not p.exists() and not args.remove]
        if missing:
            print(f"error: path(s) not found: {', '.join(missing)}; pass existing files or folders", file=sys.stderr)
            return EXIT_USAGE
        from ingest.indexer import build_indexer

        index_dir = args.index.resolve() if args.index else None
        indexer = build_indexer(settings, index_dir=index_dir)
        if args.list:
            return _list(indexer, args.json)
        if urls:
            return _crawl(urls[0], indexer, settings, args.json, watch=args.watch)
        if args.watch:
            return _watch(indexer, args.paths, settings.ingest, args.json)
        report = indexer.remove(args.paths) if args.remove else _run_with_progress(indexer, args.paths)
        indexer.close()
        if args.remove and settings.audit.enabled:  # an admin action: on the audit trail
            details = {"paths": [str(p) for p in args.paths], "files": report.deleted, "chunks": report.chunks_removed}
            AuditLog(settings.resolve(settings.audit.path)).append("remove", cli_operator(), details)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("interrupted: the index is consistent; run the same command again to finish", file=sys.stderr)
        return EXIT_FATAL
    print(_summary(report), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(report.to_json())
    return EXIT_SKIPPED if report.skipped else EXIT_OK


def _crawl(url: str, indexer: Indexer, settings: Settings, as_json: bool, watch: bool = False) -> int:
    """Crawl the site once, or with --watch again every crawl.recrawl_minutes until Ctrl-C or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    if watch:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while True:
            code = _crawl_once(url, indexer, settings, as_json)
            if not watch or stop.wait(settings.crawl.recrawl_minutes * 60):
                return code
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        indexer.close()


def _crawl_once(url: str, indexer: Indexer, settings: Settings, as_json: bool) -> int:
    from ingest.crawl import crawl_site

    with progress_bar("crawl", "page") as progress:
        report = crawl_site(url, indexer.index_dir, settings.crawl, indexer, progress=progress)
    out = report.to_dict()
    crawl = out["crawl"]
    lines = [
        f"pages: {crawl['fetched']} fetched, {crawl['stored']} new or changed, {crawl['unchanged']} unchanged, "
        f"{crawl['removed']} removed, {len(crawl['excluded'])} excluded"
        + (f", {crawl['unlisted']} more excluded or skipped (not listed)" if crawl["unlisted"] else "")
        + ("" if crawl["complete"] else f" ({crawl['stopped'] or 'stopped early: some links not followed'})"),
        f"chunks: {out['chunks_written']} written, {out['chunks_removed']} removed in {crawl['seconds']:.1f} s",
    ]
    lines += [f"excluded {e['url']}: {e['reason']}" for e in crawl["excluded"]]
    lines += [f"skipped {s['path']}: {s['reason']}" for s in out["skipped"]]
    print("\n".join(lines), file=sys.stderr if as_json else sys.stdout, flush=True)
    if as_json:
        print(json.dumps(out, sort_keys=True), flush=True)
    return EXIT_SKIPPED if out["skipped"] else EXIT_OK


def _run_with_progress(indexer: Indexer, paths: list[Path]) -> IngestReport:
    with progress_bar("ingest", "file") as progress:
        return indexer.run(paths, progress=progress)


def _watch(indexer: Indexer, paths: list[Path], ingest: IngestSettings, as_json: bool) -> int:
    """Index, then apply each burst of changes as it settles; one summary (or JSON line) per run."""
    import signal

    from ingest.watch import FolderWatch

    def report(r: IngestReport) -> None:
        if as_json:
            print(r.to_json(), flush=True)
        else:
            print(_summary(r), flush=True)

    watch = FolderWatch(indexer, paths, ingest.watch_debounce_s, ingest.watch_max_delay_s, report)
    signal.signal(signal.SIGTERM, lambda *_: watch.stop.set())
    print(f"watching {', '.join(str(p) for p in watch.roots)} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        watch.run()
    except KeyboardInterrupt:
        watch.stop.set()
    finally:
        indexer.close()
    print("stopped watching; the index is consistent", file=sys.stderr)
    return EXIT_OK


def _list(indexer: object, as_json: bool) -> int:
    records = indexer.indexed_files()  # type: ignore[attr-defined]
    if as_json:
        print(json.dumps([r.__dict__ for r in records]))
        return EXIT_OK
    total_chunks = sum(r.n_chunks for r in records)
    for r in records:
        print(f"{r.file_type:5} {r.pages:5}p {r.n_chunks:6} chunks  {r.path}")
    print(f"{len(records)} files, {total_chunks} chunks in {indexer.index_dir}")  # type: ignore[attr-defined]
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
