"""make setup installs with uv, which reads no pip configuration: scripts/uv_install.py passes pip's on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("uv_install", ROOT / "scripts" / "uv_install.py")
assert spec and spec.loader
uv_install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(uv_install)


def test_pips_sources_certificate_and_timeout_reach_uv(tmp_path: Path) -> None:
    wheels, index, cert, constraints = tmp_path / "wheels", tmp_path / "simple", tmp_path / "ca.pem", tmp_path / "c.txt"
    wheels.mkdir()
    index.mkdir()
    cert.write_text("cert")
    constraints.write_text("torch<=2.14.1\n")
    config = {
        "index-url": "https://mirror.example/simple",
        "extra-index-url": f"file://{index} file://{tmp_path}/missing https://extra.example/simple",
        "find-links": f"{wheels} {tmp_path}/gone",
        "cert": str(cert),
        "default-timeout": "180",
        "constraint": str(constraints),
    }
    assert uv_install.uv_args(config) == [
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", f"file://{index}",
        "--extra-index-url", "https://extra.example/simple",
        "--index-strategy", "unsafe-best-match",
        "--find-links", str(wheels),
        "-c", str(constraints),
    ]  # fmt: skip
    env = uv_install.uv_environment(config)
    assert env["SSL_CERT_FILE"] == str(cert) and env["UV_HTTP_TIMEOUT"] == "180"
    assert uv_install.uv_args({}) == [] and "SSL_CERT_FILE" not in uv_install.uv_environment({})


def test_the_environments_pip_settings_win_over_the_files(tmp_path: Path) -> None:
    """`pip config list` as pip prints it: PIP_* variables (":env:") over pip.conf ("global")."""
    listed = "global.find-links='/a'\n:env:.find-links='/b /c'\nglobal.cert='/x.pem'\n"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{listed}EOF\n")
    fake.chmod(0o755)
    assert uv_install.pip_config(str(fake)) == {"find-links": "/b /c", "cert": "/x.pem"}
