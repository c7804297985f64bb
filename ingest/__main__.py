"""`python -m ingest PATH...`: index folders of documents (incremental), list or remove what is indexed.

Exit status: 0 every file indexed, 3 some files skipped (see the report), 1 fatal error, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from configs.audit import AuditLog, cli_operator
from configs.errors import KBError
from configs.loading import load_settings, offline_environment
from configs.logs import configure_logging
from configs.progress import progress_bar

if TYPE_CHECKING:  # imported lazily at run time: `--help` and argument errors stay instant
    from configs.settings import IngestSettings
    from ingest.indexer import Indexer, IngestReport

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    p.add_argument("paths", nargs="*", type=Path, help="files or folders to index")
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
