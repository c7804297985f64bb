"""Loopback helpers for starting local servers (tests and benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    """Until something listens on 127.0.0.1:port; fails early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate, then kill if it does not exit within the grace period."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_llama_server(
    gguf: str, python: str, alias: str | None = None, chat_format: str | None = None
) -> tuple[subprocess.Popen[Any], str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1; returns (process, /v1 base URL) once it listens."""
    port = free_port()
    cmd = [
        python,
        "-m",
        "llama_cpp.server",
        "--model",
        gguf,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--use_mmap",
        "false",
    ]
    if alias:
        cmd += ["--model_alias", alias]
    if chat_format:  # e.g. chatml-function-calling: tool calls, constrained by each tool's JSON Schema
        cmd += ["--chat_format", chat_format]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # nosec B603  # a server of ours on loopback, argv list, no shell
    try:
        wait_for_port(port, proc, timeout=120)
    except RuntimeError:
        stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}/v1"
