"""`python -m serving [--index DIR] [--host H] [--port N]`: the Q&A page at / and the HTTP API under /v1/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from configs.errors import KBError
from configs.logs import configure_logging
from configs.settings import load_settings, offline_environment


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    p = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    p.add_argument("--index", type=Path, help="index directory (default: index.path)")
    p.add_argument("--host", help="address to listen on (default: serving.host = 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: serving.port = 7860)")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    p.add_argument("--backend", choices=["local", "openai", "extractive"], help="override llm.backend")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    overrides: dict[str, dict[str, object]] = {}
    if args.host:
        overrides.setdefault("serving", {})["host"] = args.host
    if args.port:
        overrides.setdefault("serving", {})["port"] = args.port
    if args.backend:
        overrides.setdefault("llm", {})["backend"] = args.backend
    try:
        settings = load_settings(args.profile, overrides=overrides)
        index_dir = args.index.resolve() if args.index else settings.resolve(settings.index.path)
        if not (index_dir / "manifest.sqlite").exists():
            print(
                f"error: no index at {index_dir}; run `make ingest DOCS=...` first (or pass --index)", file=sys.stderr
            )
            return 1
        from serving.app import build_app

        app = build_app(settings, index_dir)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    import uvicorn

    host, port = settings.serving.host, settings.serving.port
    print(f"serving the knowledge base on http://{host}:{port}/ (API under /v1/)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
