"""`uv pip install` into this interpreter's environment, with the package sources and TLS settings its pip has.

`make setup` installs with uv (the same lock in a third of pip's time), which reads neither pip.conf nor PIP_*
variables. A machine whose pip points at a mirror (index-url), extra indexes, a folder of wheels (find-links: a CPU
torch, say), a certificate bundle (a TLS-inspecting proxy), a longer timeout or a constraints file gets the same
from uv. A file:// index or a folder that does not exist is left out, as pip leaves it out (with a warning).
Standard library only: it runs before the project is installed.

Usage: .venv/bin/python scripts/uv_install.py ARGS...   (runs .venv/bin/uv pip install -q --python .venv/bin/python
[pip's sources] ARGS; uv itself is installed into the venv first, by pip)
"""

from __future__ import annotations

import os
import subprocess  # nosec B404  # runs this interpreter's own pip, no shell
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse


def pip_config(python: str) -> dict[str, str]:
    """pip's settings as `pip config list` gives them, the environment's (PIP_*) over the files'."""
    try:
        out = subprocess.run(  # nosec B603  # this interpreter's pip, fixed arguments
            [python, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    files: dict[str, str] = {}
    env: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        section, _, name = key.rpartition(".")
        value = value.strip().strip("'\"")
        if section == ":env:":
            env[name] = value
        elif section in ("global", "install"):
            files[name] = value
    return files | env


def _present(location: str) -> bool:
    """A local folder or file:// URL that exists, or any remote URL."""
    if "://" not in location:
        return Path(location).exists()
    parsed = urlparse(location)
    return parsed.scheme != "file" or Path(unquote(parsed.path)).exists()


def uv_environment(config: dict[str, str]) -> dict[str, str]:
    env = {"UV_LINK_MODE": "copy"}  # the cache and the venv may lie on different file systems
    if config.get("cert") and Path(config["cert"]).is_file():
        env["SSL_CERT_FILE"] = config["cert"]
    timeout = config.get("default-timeout") or config.get("timeout")
    if timeout:
        env["UV_HTTP_TIMEOUT"] = str(int(float(timeout)))
    return env


def uv_args(config: dict[str, str]) -> list[str]:
    args: list[str] = []
    index = config.get("index-url", "")
    if index and _present(index):
        args += ["--index-url", index]
    extras = [u for u in config.get("extra-index-url", "").split() if _present(u)]
    for url in extras:
        args += ["--extra-index-url", url]
    if extras:
        args += ["--index-strategy", "unsafe-best-match"]  # pip takes the best version from all indexes alike
    for place in config.get("find-links", "").split():
        if _present(place):
            args += ["--find-links", place]
    for constraints in config.get("constraint", "").split():
        if Path(constraints).is_file():
            args += ["-c", constraints]
    return args


def main() -> None:
    python = sys.executable
    config = pip_config(python)
    uv = str(Path(python).parent / "uv")
    argv = [uv, "pip", "install", "-q", "--python", python, *uv_args(config), *sys.argv[1:]]
    os.execve(uv, argv, os.environ | uv_environment(config))  # nosec B606  # the venv's uv, no shell


if __name__ == "__main__":
    main()
