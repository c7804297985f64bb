"""The process environment beyond the KB_* settings: the variables of libraries the assistant drives (the Hugging
Face hub's HF_HUB_OFFLINE and HF_ENDPOINT, prometheus-client's PROMETHEUS_MULTIPROC_DIR) and the secrets that
configured tools name by variable. Read here, like every environment variable (configs/loading.py reads the
KB_* ones); the entry points and the composition root hand the values down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = ("1", "true", "yes", "on")


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


@dataclass(frozen=True)
class HubAccess:
    """How the Hugging Face hub may be reached: not at all when `offline`; at `endpoint` (another hub or a mirror)
    when set, else at the hub itself."""

    offline: bool
    endpoint: str | None


def hub_access(environ: Mapping[str, str] | None = None) -> HubAccess:
    """HF_HUB_OFFLINE and HF_ENDPOINT, as huggingface_hub itself reads them."""
    env = _env(environ)
    endpoint = env.get("HF_ENDPOINT", "").rstrip("/")
    return HubAccess(offline=env.get("HF_HUB_OFFLINE", "0").lower() in _TRUE, endpoint=endpoint or None)


def prometheus_multiprocess(environ: Mapping[str, str] | None = None) -> bool:
    """True when PROMETHEUS_MULTIPROC_DIR is set (a pre-forking server): metrics are aggregated across its
    processes' files, which prometheus-client finds through the variable itself."""
    return bool(_env(environ).get("PROMETHEUS_MULTIPROC_DIR"))


def tool_secret(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret a tool's `auth_env` names (None when unset). Secrets come from the environment only, and this
    is read at each call, so a rotated secret is used without a restart."""
    return _env(environ).get(variable)
