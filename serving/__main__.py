"""`python -m serving [--index DIR] [--host H] [--port N]`: the Q&A page at / and the HTTP API under /v1/.

`python -m serving verify FILE.jsonl [--json]`: check answers against their sources with the verifier the answer
chain uses; `python -m serving model [--list] [--name NAME]`: download a local GGUF model (what `make model` runs);
`python -m serving keys ...`, `python -m serving sessions ...` and `python -m serving audit ...`: API keys, the
page's sign-in sessions and the audit trail (serving/admin.py); `python -m serving feedback ...`: the review queue of
thumbs-down answers (serving/feedback_cli.py); `python -m serving mcp [--index DIR]`: the knowledge base as an MCP
server over stdio, for desktop assistants (serving/doors/mcp.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from configs.errors import KBError
from configs.loading import load_settings, offline_environment
from configs.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["verify"]:
        offline_environment()
        return verify_main(argv[1:])
    if argv[:1] in (["keys"], ["sessions"], ["audit"]):
        from serving.admin import audit_main, keys_main, sessions_main

        offline_environment()
        return {"keys": keys_main, "sessions": sessions_main, "audit": audit_main}[argv[0]](argv[1:])
    if argv[:1] == ["feedback"]:
        from serving.feedback_cli import cli as feedback_cli

        offline_environment()
        return feedback_cli(argv[1:])
    if argv[:1] == ["mcp"]:
        offline_environment()
        return mcp_main(argv[1:])
    if argv[:1] == ["model"]:
        from serving.llm.download import main as model_main

        offline_environment(allow_downloads=True)
        return model_main(argv[1:])
    offline_environment()
    p = argparse.ArgumentParser(prog="python -m serving", description=__doc__)
    p.add_argument("--index", type=Path, help="index directory (default: index.path)")
    p.add_argument("--host", help="address to listen on (default: serving.host = 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: serving.port = 7860)")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    p.add_argument("--backend", choices=["auto", "local", "openai", "extractive"], help="override llm.backend")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    overrides: dict[str, dict[str, object]] = {}
    if args.host:
        overrides.setdefault("serving", {})["host"] = args.host
    if args.port:
        overrides.setdefault("serving", {})["port"] = args.port
    if args.backend:
        overrides.setdefault("llm", {})["backend"] = args.backend
    try:
        settings = load_settings(args.profile, overrides=overrides)
        configure_logging(args.verbose, settings.observability.log_format)
        index_dir = _index_dir(args.index, settings)
        if index_dir is None:
            return 1
        from serving.access.auth import check_exposure
        from serving.app import build_app, server_options

        check_exposure(settings)  # before loading anything: refuse an open server beyond loopback at once
        app = build_app(settings, index_dir)
        if settings.privacy.redact:
            from serving.access.pii import RedactingFilter

            redacting = RedactingFilter(app.state.assistant.redactor)
            for handler in logging.getLogger().handlers:
                handler.addFilter(redacting)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    import uvicorn

    host, port = settings.serving.host, settings.serving.port
    print(f"serving the knowledge base on http://{host}:{port}/ (API under /v1/)", file=sys.stderr)
    # log_config=None: uvicorn's loggers go through the handlers configured above (and their PII filter);
    # with -v that includes its access log, one line per request.
    uvicorn.run(
        app, host=host, port=port, log_level="info" if args.verbose else "warning", log_config=None,
        **server_options(settings),
    )  # fmt: skip
    return 0


def _index_dir(given: Path | None, settings: Any) -> Path | None:
    """The index to serve (--index, else index.path); None, with the error said, when there is none."""
    index_dir = given.resolve() if given else settings.resolve(settings.index.path)
    if not (index_dir / "manifest.sqlite").exists():
        print(f"error: no index at {index_dir}; run `make ingest DOCS=...` first (or pass --index)", file=sys.stderr)
        return None
    return index_dir


def mcp_main(argv: list[str]) -> int:
    """MCP over stdin/stdout for a desktop assistant that starts this command; it acts for mcp.stdio_user."""
    import contextlib

    p = argparse.ArgumentParser(prog="python -m serving mcp", description=mcp_main.__doc__)
    p.add_argument("--index", type=Path, help="index directory (default: index.path)")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs (on stderr: stdout carries MCP)")
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.profile)
        configure_logging(args.verbose, settings.observability.log_format)
        index_dir = _index_dir(args.index, settings)
        if index_dir is None:
            return 1
        from serving.assistant import Assistant
        from serving.doors.mcp import stdio_server

        with contextlib.redirect_stdout(sys.stderr):  # what libraries print while loading must not reach the client
            serve = stdio_server(Assistant(settings, index_dir))
        serve()
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def verify_main(argv: list[str]) -> int:
    """Each input line {"question", "answer", "sources": [...]} -> one output line {"supported", "score"}."""
    import json

    p = argparse.ArgumentParser(prog="python -m serving verify", description=verify_main.__doc__)
    p.add_argument("file", type=Path, help="JSON lines: question, answer (with [n] markers or not), sources")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout (the default; kept for scripts)")
    p.add_argument("-v", "--verbose", action="store_true", help="why each unsupported answer failed (stderr)")
    args = p.parse_args(argv)
    from serving.answer.verify.verifier import FeatureVerifier, verify_answer

    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"error: cannot read {args.file} ({exc.strerror or exc}); pass a JSON lines file", file=sys.stderr)
        return 2
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, answer, sources = row.get("question", ""), row["answer"], row["sources"]
            if not isinstance(answer, str) or not isinstance(sources, list) or not isinstance(question, str):
                raise TypeError("answer must be a string, sources a list of strings")
            rows.append((question, answer, [str(s) for s in sources]))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            print(f"error: {args.file}:{n}: not a row of question, answer, sources ({exc})", file=sys.stderr)
            return 2
    verifier = FeatureVerifier()
    supported = 0
    for question, answer, sources in rows:
        verdict = verify_answer(verifier, question, answer, sources)
        supported += verdict.supported
        print(json.dumps({"supported": verdict.supported, "score": verdict.score}), flush=True)
        if args.verbose and not verdict.supported:
            print(f"unsupported: {answer[:80]!r}: {'; '.join(verdict.reasons)}", file=sys.stderr)
    print(f"{supported} of {len(rows)} answers supported ({verifier.name})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
