"""Parsing bounded in memory and time, in a child process: for files from untrusted hands (page uploads).

`IsolatedLoader` is a Loader for every file type that hands each file's bytes to a child (`python -m
ingest.sandbox`) running the ordinary loaders, archive checks included; chunking, embedding and writing stay in
the calling process, so the ingest pipeline is the same. The child caps its own address space (RLIMIT_AS) before
importing any parser and its CPU time per file (RLIMIT_CPU); the parent kills it past the wall-time limit. A file
that runs out of either is refused with the reason, and the next file gets a fresh child.

The protocol is JSON, never pickle, so a child subverted by a hostile file cannot run code in the parent:
the parent sends a header line {"name", "size", "cpu_s"} and the bytes; the child answers one line, the Document's
sections or the reason it skipped the file, no larger than the extracted-text limit allows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from configs.settings import PROJECT_ROOT
from ingest.archives import MB, ArchiveLimits
from ingest.loaders import Document, Section, SkipFile
from ingest.ocr import OcrOptions

logger = logging.getLogger(__name__)

STARTUP_S = 120.0  # the child imports the parsers (torch among them) before it is timed


class IsolatedLoader:
    """Loads every file type in a child process limited to `max_mb` of address space and `timeout_s` per file.
    One child at a time, started on first use and reused until it is killed or dies; `close` ends it."""

    file_types: tuple[str, ...] = (
        "pdf", "docx", "pptx", "html", "md", "txt", "csv", "tsv", "xlsx", "ods", "eml", "epub", "odt", "rtf",
        "png", "jpg", "tiff", "webp", "bmp",
    )  # fmt: skip

    def __init__(self, limits: ArchiveLimits, timeout_s: float, max_mb: int, ocr: OcrOptions | None = None) -> None:
        self._limits = limits
        self._ocr = ocr or OcrOptions()
        self._timeout = timeout_s
        self._max_mb = max_mb
        self._max_reply = int(2 * limits.max_unpacked_mb * MB) + MB  # JSON escapes can double the text
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def load(self, path: Path, data: bytes) -> Document:
        with self._lock:
            reply = self._ask(path, data)
        if "skip" in reply:
            raise SkipFile(str(reply["skip"]))
        doc = reply["doc"]
        sections = tuple(
            Section(str(t), p if isinstance(p, int) else None, str(h), ocr is True) for t, p, h, ocr in doc["sections"]
        )
        notes = tuple(str(n) for n in doc.get("notes", ()))
        warnings = tuple(str(w) for w in doc.get("warnings", []))
        return Document(
            path, str(doc["file_type"]), str(doc["title"]), sections, int(doc["pages"]), notes=notes, warnings=warnings
        )

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _ask(self, path: Path, data: bytes) -> dict[str, Any]:
        proc = self._child()
        header = {"name": str(path), "size": len(data), "cpu_s": math.ceil(self._timeout)}
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(header).encode() + b"\n" + data)
            proc.stdin.flush()
        except OSError:  # the child died between two files
            return {"skip": self._died()}
        try:
            line = _read_line(proc.stdout, time.monotonic() + self._timeout, self._max_reply)
        except SkipFile:
            self._stop()
            raise
        if line is None:
            self._stop()
            return {
                "skip": f"parsing took longer than serving.upload_parse_timeout_s={self._timeout:g} s; "
                "the file was refused"
            }
        if not line:
            return {"skip": self._died()}
        reply: dict[str, Any] = json.loads(line)
        if reply.get("exit"):  # the child answered, then ends itself (after running out of memory)
            self._stop()
        return reply

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._proc = proc = subprocess.Popen(  # noqa: S603 - our own module, run by this interpreter  # nosec B603
            [sys.executable, "-m", "ingest.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_ROOT,
            env=env,
            start_new_session=True,  # a signal to the server's process group does not reach the child first
        )
        assert proc.stdin is not None and proc.stdout is not None
        config = {"max_mb": self._max_mb, "limits": asdict(self._limits), "ocr": asdict(self._ocr)}
        try:
            proc.stdin.write(json.dumps(config).encode() + b"\n")
            proc.stdin.flush()
            ready = _read_line(proc.stdout, time.monotonic() + STARTUP_S, 4096)
        except (OSError, SkipFile):
            ready = None
        if not ready or not json.loads(ready).get("ready"):
            self._stop()
            raise SkipFile(
                "the parser process did not start (see the server log); serving.upload_parse_max_mb="
                f"{self._max_mb} MB may be too little for it"
            )
        return proc

    def _died(self) -> str:
        code = 0
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(timeout=5)
        self._stop()
        if code == -signal.SIGXCPU:
            return f"parsing took longer than serving.upload_parse_timeout_s={self._timeout:g} s; the file was refused"
        name = signal.Signals(-code).name if code < 0 and -code in signal.valid_signals() else f"exit {code}"
        return (
            f"the parser process died ({name}), most likely out of memory under serving.upload_parse_max_mb="
            f"{self._max_mb}; the file was refused"
        )

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # the group is gone: the child and all it started have ended
            os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own session: this also ends the OCR it started
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _read_line(stream: IO[bytes], deadline: float, limit: int) -> bytes | None:
    """One line from the child: b"" when it closed its end, None past the deadline; SkipFile past `limit` bytes."""
    fd = stream.fileno()
    parts: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b""
        end = chunk.find(b"\n")
        parts.append(chunk if end < 0 else chunk[:end])
        size += len(parts[-1])
        if size > limit:
            raise SkipFile(f"the parser's answer is over {limit // MB} MB (ingest.max_unpacked_mb); file refused")
        if end >= 0:
            return b"".join(parts)


# --- the child ---------------------------------------------------------------------------------------------------


def _child_main() -> int:
    import resource

    requests = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")  # the protocol's channel; anything a library prints goes to stderr instead
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    config = json.loads(requests.readline())
    cap = int(config["max_mb"]) * MB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limits = ArchiveLimits(**config["limits"])
    max_text = int(limits.max_unpacked_mb * MB)
    from ingest.formats import default_loaders
    from ingest.loaders import _partitioner, file_type_of

    loaders = default_loaders(limits, OcrOptions(**config["ocr"]))
    try:  # imported and warmed up now (the NLP model loads on first use), so a file's time is its parsing alone
        for file_type in ("docx", "pptx", "md", "html"):
            _partitioner(file_type)
        loaders["md"].load(Path("warm-up.md"), b"# Warm up\n\nThe parsers load their models on first use.\n")
        import pypdfium2  # noqa: F401
    except MemoryError:
        return 3
    _send(out, {"ready": True})
    while header := requests.readline():
        request = json.loads(header)
        data = requests.read(int(request["size"]))
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = math.ceil(used.ru_utime + used.ru_stime)
        resource.setrlimit(resource.RLIMIT_CPU, (spent + int(request["cpu_s"]), resource.RLIM_INFINITY))
        path = Path(request["name"])
        reply: dict[str, Any]
        try:
            doc = loaders[file_type_of(path) or ""].load(path, data)
            if doc.chars > max_text:
                raise SkipFile(
                    f"its text is {doc.chars / MB:.0f} MB, over ingest.max_unpacked_mb={limits.max_unpacked_mb:g}"
                )
            sections = [[s.text, s.page, s.heading, s.ocr] for s in doc.sections]
            reply = {
                "doc": {
                    "file_type": doc.file_type,
                    "title": doc.title,
                    "pages": doc.pages,
                    "sections": sections,
                    "notes": list(doc.notes),
                    "warnings": list(doc.warnings),
                }
            }
        except (SkipFile, MemoryError) as exc:
            if isinstance(exc, MemoryError) or isinstance(exc.__cause__, MemoryError):  # loaders wrap what they meet
                reply = {
                    "skip": f"parsing needs more than serving.upload_parse_max_mb={config['max_mb']} MB of memory; "
                    "the file was refused",
                    "exit": True,  # what ran out of memory may have left the process in a bad state
                }
            else:
                reply = {"skip": str(exc)}
        except RecursionError:
            reply = {"skip": "document nesting too deep to parse"}
        except Exception as exc:  # a parser bug on one file is that file's reason
            reply = {"skip": f"parser error ({type(exc).__name__}: {str(exc)[:120]})"}
        _send(out, reply)
        if reply.get("exit"):
            return 0
    return 0


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(_child_main())
