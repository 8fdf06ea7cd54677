"""Settings layering: arguments beat the environment, which beats the config file, which
beats the defaults; a Config built directly reads neither the environment nor a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.config import CONFIG_ENV, Config
from summarizer.errors import ConfigError


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text('model = "from-file"\nmode = "json"\nmax_reasks = 4\n', encoding="utf-8")
    return path


def test_each_layer_beats_the_one_below(toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config.load(toml).model == "from-file"  # the file beats the default (None)
    assert Config.load(toml).max_reasks == 4 and Config().max_reasks == 2
    monkeypatch.setenv("SUMMARIZER_MODEL", "from-env")
    monkeypatch.setenv("SUMMARIZER_MODE", "")  # empty: unset, the file's value stands
    loaded = Config.load(toml)
    assert (loaded.model, loaded.mode) == ("from-env", "json")
    chosen = Config.load(toml, model="from-argument", mode=None)  # None: not given
    assert (chosen.model, chosen.mode) == ("from-argument", "json")
    assert type(chosen) is Config and chosen == Config(
        model="from-argument", mode="json", max_reasks=4, cache_dir=chosen.cache_dir
    )


def test_a_config_built_directly_reads_nothing(toml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARIZER_MODEL", "from-env")
    monkeypatch.setenv(CONFIG_ENV, str(toml))
    assert Config().model is None and Config().mode == "auto"
    assert Config.load().model == "from-env" and Config.load().mode == "json"  # $SUMMARIZER_CONFIG


def test_the_environment_holds_several_endpoints_and_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUMMARIZER_BASE_URL", "http://a/v1, http://b/v1,http://a/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    loaded = Config.load()
    assert loaded.base_url == ("http://a/v1", "http://b/v1")
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == "sk-from-env"


def test_bad_settings_are_config_errors_naming_the_problem(tmp_path: Path, toml: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(tmp_path / "absent.toml")
    toml.write_text('model = "x"\ntemperature_typo = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="temperature_typo: Extra inputs are not permitted"):
        Config.load(toml)
    toml.write_text("model = ", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"config file {toml} is unreadable"):
        Config.load(toml)
    with pytest.raises(ConfigError, match="max_reasks"):
        Config.load(max_reasks=9)
