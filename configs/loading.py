"""Loading Settings: configs/default.yaml, a profile, KB_<SECTION>__<KEY> env overrides; unknown keys are errors,
secrets come from the environment only."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from configs.errors import ConfigError
from configs.settings import CONFIG_DIR, ENV_PREFIX, Settings

# Libraries that phone home unless told not to; entry points apply these before importing them.
TELEMETRY_OFF = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "NNCF_CI": "1",  # NNCF's documented switch that replaces its telemetry with a stub
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found; use a profile from {CONFIG_DIR}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({exc}); fix the file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of sections (index:, embedding:, ...)")
    return data


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


SECRETS = {
    "llm": ("api_key",),
    "retrieval": ("rerank_api_key",),
    "auth": ("oidc_client_secret", "session_secret"),
    "observability": ("metrics_token",),
    "storage": ("url",),
    "slack": ("bot_token", "signing_secret", "app_token"),
    "teams": ("app_password",),
}
# Keys that existed once: a setting that still names one gets a message that says what replaced it.
REMOVED = {
    ("serving", "api_key"): "API keys are per person now: `python -m serving keys create USER --groups G`",
    ("serving", "auth_user"): "the page signs in with OpenID Connect (auth.oidc_*) or an API key",
    ("serving", "auth_password"): "the page signs in with OpenID Connect (auth.oidc_*) or an API key",
}


def _is_text(section: str, key: str) -> bool:
    """True when the field takes text (str, SecretStr, Path): its env value is used as written, not parsed."""
    model = Settings.model_fields.get(section)
    field = getattr(model.annotation, "model_fields", {}).get(key) if model is not None else None
    if field is None:
        return False
    args = typing.get_args(field.annotation) or (field.annotation,)
    return all(a in (str, SecretStr, Path, type(None)) for a in args) and args != (type(None),)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "PROFILE":
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"env var {name} should look like KB_<SECTION>__<KEY>, e.g. KB_INDEX__PATH")
        section, key = parts
        # Text fields take the value as written (KB_SERVING__API_KEY=0123 is the string "0123"); other fields
        # are parsed as YAML, which gives numbers, booleans and lists their types.
        if _is_text(section, key):
            value: Any = raw
        else:
            value = yaml.safe_load(raw) if raw.strip() else ""
        overrides.setdefault(section, {})[key] = value
    return overrides


def _no_secrets(data: Mapping[str, Any], origin: str) -> None:
    for section, keys in SECRETS.items():
        values = data.get(section) if isinstance(data.get(section), Mapping) else {}
        for key in keys:
            if values and values.get(key) not in (None, ""):
                env = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
                raise ConfigError(
                    f"{origin} sets the secret {section}.{key}; secrets are read from the environment only: remove it "
                    f"from the file and set {env}"
                )


def _explain(exc: ValidationError, origin: str) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden" and tuple(map(str, err["loc"])) in REMOVED:
            problems.append(f"'{where}' was removed: {REMOVED[(str(err['loc'][0]), str(err['loc'][1]))]}")
        elif err["type"] == "extra_forbidden":
            section = err["loc"][0] if len(err["loc"]) > 1 else None
            model = Settings.model_fields[str(section)].annotation if section in Settings.model_fields else Settings
            allowed = ", ".join(getattr(model, "model_fields", {}))
            problems.append(f"unknown key '{where}' (allowed here: {allowed})")
        else:
            problems.append(f"'{where}': {err['msg']}")
    return f"invalid configuration in {origin}: " + "; ".join(problems)


def load_settings(
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load configs/default.yaml, then configs/<profile>.yaml, then KB_* env vars, then explicit overrides."""
    env = os.environ if environ is None else environ
    profile = profile or env.get(ENV_PREFIX + "PROFILE") or "default"
    data = _read_yaml(CONFIG_DIR / "default.yaml")
    _no_secrets(data, "configs/default.yaml")
    origin = "configs/default.yaml"
    if profile != "default":
        path = Path(profile) if profile.endswith((".yaml", ".yml")) else CONFIG_DIR / f"{profile}.yaml"
        extra = _read_yaml(path)
        _no_secrets(extra, str(path))
        data = _merge(data, extra)
        origin += f" + {path}"
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides or {})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origin + " / KB_* env")) from exc


def offline_environment(environ: dict[str, str] | None = None, allow_downloads: bool = False) -> None:
    """Entry points call this first: no telemetry, no hub downloads (existing explicit values win).
    allow_downloads: for `make model` only, which fetches a model on purpose."""
    target = os.environ if environ is None else environ
    for key, value in TELEMETRY_OFF.items():
        if allow_downloads and key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            continue
        target.setdefault(key, value)
