"""The corpora the answer question sets are about (data/answers/corpora.json), indexed once into a cache.

A corpus is a folder of this repository (the sample handbook), a QA-layout dataset read in place (PubMedQA), or
pages of a Debian documentation package, downloaded and unpacked once on the machine that runs the evaluation (only
the questions are stored in the repository). The index lives under eval.cache_dir/answers/<name>/ and later runs
embed nothing for unchanged files.
"""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404  # apt-get and dpkg-deb with fixed arguments, to fetch a Debian documentation package
import tempfile
from pathlib import Path
from typing import Any

from configs.errors import ConfigError, KBError
from configs.settings import Settings

CORPORA = Path("data/answers/corpora.json")


def corpus_spec(settings: Settings, name: str) -> dict[str, Any]:
    """The corpus a set names, as data/answers/corpora.json describes it."""
    path = settings.resolve(CORPORA)
    try:
        specs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the corpus list {path} ({exc})") from exc
    if name not in specs:
        raise ConfigError(f"corpus {name!r} is not described in {path}; known: {', '.join(sorted(specs))}")
    return dict(specs[name])


def fetch_debian_pages(spec: dict[str, Any], dest: Path) -> Path:
    """The pages of a Debian documentation package the corpus names, downloaded (apt-get download) and unpacked
    (dpkg-deb -x) once into dest; a package file already in dest is used as it is (machines without apt)."""
    docs = dest / "docs"
    done = dest / "docs.complete"
    pages: list[str] = list(spec["pages"])
    wanted = json.dumps(pages)
    if done.exists() and done.read_text(encoding="utf-8") == wanted:
        return docs
    package = str(spec["package"])
    dest.mkdir(parents=True, exist_ok=True)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        try:
            subprocess.run(  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
                ["apt-get", "download", package], cwd=dest, check=True, capture_output=True, text=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise KBError(
                f"could not download the Debian package {package} ({detail.strip()[-200:]}); run `apt-get update`, "
                f"or put {package}_*.deb into {dest}"
            ) from exc
        debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        raise KBError(f"apt-get download left no {package}_*.deb in {dest}; put the package file there")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        try:
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), tmp], check=True, capture_output=True)  # nosec B603 B607  # Debian's tool, fixed arguments, no shell
        except (OSError, subprocess.CalledProcessError) as exc:
            raise KBError(
                f"could not unpack {debs[-1]} ({exc}); install dpkg or remove the file to fetch it again"
            ) from exc
        root = Path(tmp) / str(spec["root"])
        missing = [p for p in pages if not (root / p).is_file()]
        if missing:
            raise KBError(f"{debs[-1].name} lacks {len(missing)} of the corpus pages ({', '.join(missing[:3])} ...)")
        if docs.exists():
            shutil.rmtree(docs)
        docs.mkdir(parents=True)
        for page in pages:
            shutil.copyfile(root / page, docs / page)
    (dest / "package.txt").write_text(debs[-1].name, encoding="utf-8")
    done.write_text(wanted, encoding="utf-8")
    return docs


def pointed(settings: Settings, index_dir: Path, backend: str | None = None) -> Settings:
    """The configured pipeline, reading and writing the index in index_dir (and answering with backend)."""
    index = settings.index.model_copy(update={"path": index_dir, "chroma_url": None})
    llm = settings.llm.model_copy(update={"backend": backend or settings.llm.backend})
    return settings.model_copy(update={"index": index, "llm": llm})


def index_corpus(settings: Settings, name: str, progress: Any = None) -> tuple[Path, dict[str, Any]]:
    """Index the corpus (cached under eval.cache_dir/answers/<name>; unchanged files embed nothing) and say what
    it is: the index folder and a description for the report."""
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import index_dataset
    from ingest.indexer import build_indexer

    spec = corpus_spec(settings, name)
    cache = settings.resolve(settings.eval.cache_dir) / "answers" / name
    kind = spec.get("kind")
    if kind == "qa-dataset":
        dataset = load_dataset(settings.resolve(settings.eval.data_dir) / spec["dataset"], spec.get("split", "dev"))  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
        index_dir, _ = index_dataset(settings, dataset, progress=progress)
        return index_dir, {"corpus": name, "documents": dataset.corpus_size(), "data": str(dataset.root)}
    if kind == "folder":
        docs = settings.resolve(Path(spec["path"]))
        about: dict[str, Any] = {"corpus": name, "data": str(docs)}
    elif kind == "debian":
        docs = fetch_debian_pages(spec, cache)
        about = {"corpus": name, "package": (cache / "package.txt").read_text(encoding="utf-8").strip()}
    else:
        raise ConfigError(f"corpus {name!r} has kind {kind!r}; use folder, qa-dataset or debian")
    index_dir = cache / "index"
    indexer = build_indexer(pointed(settings, index_dir), index_dir=index_dir)
    try:
        run = indexer.run([docs], progress=progress)
    finally:
        indexer.close()
    about["documents"] = run.files_seen
    about["skipped"] = len(run.skipped)
    return index_dir, about
