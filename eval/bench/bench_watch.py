"""`python -m eval bench-watch`: seconds from a file's change to its being searchable, with `python -m ingest DIR
--watch` running as a user starts it (default settings: a burst is applied ingest.watch_debounce_s after its last
change). A folder of the sample handbook plus generated files; each round adds a file, edits it and deletes it, and
times each change until the published index shows it (a fresh reader's search, as the server's retriever sees it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from configs.settings import PROJECT_ROOT, Settings
from eval.stats import nearest_rank
from retrieval.lexical import LexicalIndex


def _until(check: Any, limit: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > limit:
            raise TimeoutError("the change was not applied within 120 s")
        time.sleep(0.02)
    return time.perf_counter() - t0


def main(settings: Settings, out: Path, files: int = 200, rounds: int = 10) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kb-bench-watch-"))
    docs, index = work / "docs", work / "index"
    shutil.copytree(PROJECT_ROOT / "data" / "sample", docs)
    for i in range(files):
        (docs / "generated" / f"{i // 50}").mkdir(parents=True, exist_ok=True)
        (docs / "generated" / f"{i // 50}" / f"note{i:04}.md").write_text(
            f"# Note {i}\n\n" + " ".join(f"Item {i}.{k} is filed under topic {k % 9}." for k in range(40))
        )
    proc = subprocess.Popen(  # nosec B603  # this interpreter, our own CLI, our own paths
        [sys.executable, "-m", "ingest", str(docs), "--index", str(index), "--watch", "--json"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    timings: dict[str, list[float]] = {"add": [], "edit": [], "delete": []}
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the initial batch run
        for r in range(rounds):
            word, edited = f"zanzibarword{r}", f"quokkaword{r}"
            path = docs / "generated" / f"added{r}.md"
            path.write_text(f"# Added {r}\n\nThe {word} policy was added in round {r}.\n")
            timings["add"].append(_until(lambda w=word: _searchable(index, w)))
            path.write_text(f"# Added {r}\n\nThe {edited} policy replaced it in round {r}.\n")
            timings["edit"].append(_until(lambda w=edited: _searchable(index, w)))
            path.unlink()
            timings["delete"].append(_until(lambda w=edited: not _searchable(index, w)))
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "cpu": _cpu(),
        "files": first["files_seen"],
        "initial_run_s": round(first["seconds"], 1),
        "debounce_s": settings.ingest.watch_debounce_s,
        "rounds": rounds,
        **{f"{k}_p50_s": nearest_rank(v, 0.5) for k, v in timings.items()},
        **{f"{k}_max_s": round(max(v), 2) for k, v in timings.items()},
        "seconds": {k: [round(x, 2) for x in v] for k, v in timings.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "seconds"}))
    return result


def _searchable(index: Path, word: str) -> bool:
    lexical = LexicalIndex.load(index)
    return lexical is not None and bool(lexical.search(word, 1))


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return "unknown"
    return next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?")
