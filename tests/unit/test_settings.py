from pathlib import Path

import pytest

from configs.errors import ConfigError
from configs.loading import load_settings
from configs.settings import PROJECT_ROOT


def test_defaults_load_from_yaml() -> None:
    s = load_settings(environ={})
    assert s.index.collection == "knowledge_base"
    assert s.resolve(s.index.path) == PROJECT_ROOT / "data" / "index"


def test_env_overrides_single_keys_with_types() -> None:
    s = load_settings(environ={"KB_INDEX__PATH": "/srv/kb", "KB_CHUNKING__MAX_TOKENS": "128"})
    assert s.index.path == Path("/srv/kb")
    assert s.chunking.max_tokens == 128


def test_misspelled_env_key_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'index.pathh'.*allowed here: path"):
        load_settings(environ={"KB_INDEX__PATHH": "/x"})


def test_env_var_without_section_is_explained() -> None:
    with pytest.raises(ConfigError, match="KB_<SECTION>__<KEY>"):
        load_settings(environ={"KB_PATH": "/x"})


def test_misspelled_yaml_key_is_an_error(tmp_path: Path) -> None:
    profile = tmp_path / "typo.yaml"
    profile.write_text("chunking:\n  max_token: 100\n")
    with pytest.raises(ConfigError, match=r"unknown key 'chunking.max_token'"):
        load_settings(str(profile), environ={})


def test_bad_value_is_an_error(tmp_path: Path) -> None:
    profile = tmp_path / "bad.yaml"
    profile.write_text("embedding:\n  precision: fp64\n")
    with pytest.raises(ConfigError, match="embedding.precision"):
        load_settings(str(profile), environ={})


def test_missing_profile_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings("no-such-profile", environ={})


@pytest.mark.parametrize("value", ["0123", "yes", "null", "[1, 2]", "12.50"])
def test_text_settings_take_env_values_as_written(value: str) -> None:
    s = load_settings(environ={"KB_LLM__API_KEY": value, "KB_LLM__MODEL": value, "KB_INDEX__CHROMA_URL": value})
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == value
    assert s.llm.model == value and s.index.chroma_url == value


def test_secrets_are_refused_in_files_and_accepted_from_the_environment(tmp_path: Path) -> None:
    profile = tmp_path / "leaky.yaml"
    profile.write_text("auth:\n  oidc_client_secret: hunter2\n")
    with pytest.raises(ConfigError, match=r"secret auth.oidc_client_secret.*KB_AUTH__OIDC_CLIENT_SECRET"):
        load_settings(str(profile), environ={})
    secret = load_settings(environ={"KB_AUTH__OIDC_CLIENT_SECRET": "hunter2"}).auth.oidc_client_secret
    assert secret is not None and secret.get_secret_value() == "hunter2"


def test_a_removed_setting_says_what_replaced_it() -> None:
    with pytest.raises(ConfigError, match=r"'serving.api_key' was removed: .*python -m serving keys create"):
        load_settings(environ={"KB_SERVING__API_KEY": "s3cret"})
