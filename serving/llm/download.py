"""`make model` (`python -m serving model`): download a capable local GGUF, verify it, install it for `auto`.

The file is fetched from the Hugging Face hub at a pinned revision (HF_ENDPOINT selects another hub or a mirror),
into a temporary folder beside its destination; its SHA-256 must match the catalogue before it is moved into
place, and the checksum file that marks it installed is written last. Any failure (no network, a truncated
download, a checksum mismatch) removes the temporary folder: nothing half-written is ever used.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from configs.errors import KBError, ModelUnavailable


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF the project recommends: where it lives on the hub, what it must hash to, and its licence."""

    name: str
    repo: str
    revision: str  # a commit of the hub repository: the file cannot change under us
    filename: str
    sha256: str
    size: str
    licence: str
    about: str


CATALOGUE = {
    "qwen2.5-1.5b-instruct": ModelSpec(
        name="qwen2.5-1.5b-instruct",
        repo="bartowski/Qwen2.5-1.5B-Instruct-GGUF",
        revision="85553858e3522ce5b531285b2202bdb40fab1624",
        filename="Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
        sha256="50961d9b7d3b89e46be230528fc66d38bbdda8ac3748323dd34f129a714124fc",
        size="986 MB",
        licence="Apache-2.0 (Qwen2.5-1.5B-Instruct by Alibaba Cloud; GGUF quantisation by bartowski)",
        about="Qwen2.5 1.5B Instruct, Q4_K_M: follows the cite-your-sources prompt; runs on CPU in about 1.3 GB",
    ),
}
RECOMMENDED = "qwen2.5-1.5b-instruct"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def install(spec: ModelSpec, model_dir: Path, endpoint: str | None = None, offline: bool = False) -> Path:
    """Download, verify and install one model; returns the installed file. Raises ModelUnavailable.
    endpoint: another hub or a mirror (default: the hub); offline: downloads are forbidden (HF_HUB_OFFLINE)."""
    target = model_dir / spec.filename
    marker = target.with_name(target.name + ".sha256")
    if target.is_file() and marker.is_file() and marker.read_text().split()[0] == spec.sha256:
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / f".download-{spec.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        downloaded = _download(spec, tmp, endpoint, offline)
        digest = sha256_of(downloaded)
        if digest != spec.sha256:
            raise ModelUnavailable(
                f"checksum mismatch for {spec.filename}: got {digest[:16]}..., expected {spec.sha256[:16]}...; "
                "the download was discarded (check HF_ENDPOINT or your proxy, then run `make model` again)"
            )
        marker.unlink(missing_ok=True)
        os.replace(downloaded, target)
        marker_tmp = marker.with_name(marker.name + ".tmp")
        marker_tmp.write_text(f"{spec.sha256}  {spec.filename}\n")
        os.replace(marker_tmp, marker)  # written last: only a verified file is ever marked installed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _download(spec: ModelSpec, folder: Path, endpoint: str | None, offline: bool) -> Path:
    if offline:
        raise ModelUnavailable("HF_HUB_OFFLINE is set, so nothing can be downloaded; run `make model`, which unsets it")
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of sentence-transformers
        raise ModelUnavailable("huggingface_hub is not installed; run `make setup`") from exc
    hub = (endpoint or "https://huggingface.co").rstrip("/")
    _reachable(hub, f"{hub}/{spec.repo}/resolve/{spec.revision}/{spec.filename}", spec.filename)
    try:
        path = hf_hub_download(
            spec.repo, spec.filename, revision=spec.revision, local_dir=folder, endpoint=endpoint, etag_timeout=20
        )
    except LocalEntryNotFoundError as exc:
        raise ModelUnavailable(
            f"cannot reach {hub} to download {spec.filename}; connect this machine to the internet (or set "
            "HF_ENDPOINT to a mirror) and run `make model` again"
        ) from exc
    except HfHubHTTPError as exc:
        raise ModelUnavailable(f"the hub refused {spec.repo}/{spec.filename}: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        raise ModelUnavailable(
            f"the download of {spec.filename} failed ({str(exc).splitlines()[0][:160]}); run `make model` again"
        ) from exc
    except Exception as exc:  # httpx errors mid-transfer (a truncated body) surface as various types
        raise ModelUnavailable(
            f"the download of {spec.filename} was interrupted ({type(exc).__name__}); run `make model` again"
        ) from exc
    return Path(path)


def _reachable(hub: str, url: str, filename: str) -> None:
    """Fail in seconds, not after the hub client's minute of retries, when the hub cannot be reached at all."""
    import httpx

    try:
        httpx.head(url, timeout=10, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise ModelUnavailable(
            f"cannot reach {hub} to download {filename} ({type(exc).__name__}); connect this machine to the internet "
            "(or set HF_ENDPOINT to a mirror) and run `make model` again"
        ) from exc


def main(argv: list[str]) -> int:
    import logging

    from configs.environment import hub_access
    from configs.loading import load_settings
    from configs.logs import configure_logging

    configure_logging()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)  # its retry chatter; our error says what to do

    p = argparse.ArgumentParser(prog="python -m serving model", description=__doc__)
    p.add_argument("--name", default=RECOMMENDED, help=f"catalogue entry (default: {RECOMMENDED})")
    p.add_argument("--list", action="store_true", help="list the catalogue and what is installed")
    p.add_argument("--profile", help="config profile (for llm.model_dir)")
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.profile)
        model_dir = settings.resolve(settings.llm.model_dir)
        if args.list:
            for spec in CATALOGUE.values():
                installed = (model_dir / (spec.filename + ".sha256")).is_file()
                print(f"{spec.name:24} {spec.size:>8}  {'installed' if installed else '-':9}  {spec.licence}")
            return 0
        chosen = CATALOGUE.get(args.name)
        if chosen is None:
            print(f"error: no model {args.name!r}; choose one of: {', '.join(CATALOGUE)}", file=sys.stderr)
            return 2
        spec = chosen
        print(f"downloading {spec.filename} ({spec.size}, {spec.licence}) from {spec.repo}", file=sys.stderr)
        hub = hub_access()
        path = install(spec, model_dir, endpoint=hub.endpoint, offline=hub.offline)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"installed {path} (sha256 verified); `llm.backend: auto` now answers with it", file=sys.stderr)
    return 0
