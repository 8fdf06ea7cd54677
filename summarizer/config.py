"""Settings: arguments beat the environment, which beats the config file, which beats defaults.

The layering is pydantic-settings': `Config.load` reads through three sources in that order
(the arguments given, the few environment variables in `ENV_VARS`, the TOML file). A
`Config` built directly holds only what it is given and the defaults, so library code and
tests never pick up the machine's settings by accident.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from summarizer.errors import ConfigError, validation_problems

Mode = Literal["auto", "tools", "json_schema", "json", "llama"]
CachePolicy = Literal["use", "refresh", "off"]

ENV_VARS: dict[str, str] = {
    "base_url": "SUMMARIZER_BASE_URL",
    "model": "SUMMARIZER_MODEL",
    "api_key": "OPENAI_API_KEY",
    "mode": "SUMMARIZER_MODE",
    "cache_dir": "SUMMARIZER_CACHE_DIR",
    "strategy": "SUMMARIZER_STRATEGY",
}
CONFIG_ENV = "SUMMARIZER_CONFIG"
DEFAULT_EMBEDDED_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir("summarizer")) / "config.toml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("summarizer"))


class Config(BaseSettings):
    """Everything that decides how an article is sent to a model and what comes back."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    base_url: tuple[str, ...] | None = Field(
        None,
        description="OpenAI-compatible endpoints (several share the load); none = embedded",
    )
    model: str | None = Field(None, description="model name, or embedded model name / GGUF path")
    api_key: SecretStr | None = None
    mode: Mode = "auto"
    strategy: str = Field(
        "article",
        description="article: one call per article (the default, chosen by measurement); "
        "checked: the same, then a yes/no check of each item; select: the model picks the "
        "sentences to ask about; sentences: ask about each cue-word sentence; or any strategy "
        "registered in summarizer.strategies",
    )
    cache_dir: Path = Field(default_factory=default_cache_dir)
    cache: CachePolicy = "use"
    max_reasks: int = Field(2, ge=0, le=5)
    timeout: float | None = Field(None, gt=0, description="seconds per request; None = by backend")
    max_attempts: int = Field(5, ge=1, description="transport attempts per request")
    max_retry_time: float = Field(300.0, gt=0, description="seconds of transport retrying")
    temperature: float = Field(0.0, ge=0, le=2)
    max_output_tokens: int | None = Field(None, ge=64, description="None = sized to the article")
    strict: bool = Field(False, description="drop items with no grounded evidence")
    max_chars: int = Field(200_000, ge=100, description="longest article accepted")
    n_ctx: int = Field(8192, ge=2048, description="embedded model context, tokens")
    context_tokens: int = Field(
        32768, ge=2048, description="remote model context, tokens: longer articles are chunked"
    )
    threads: int | None = Field(None, ge=1, description="embedded model threads; None = cores")
    price_per_mtok: tuple[float, float] | None = Field(
        None, description="USD per million prompt / completion tokens, for cost estimates"
    )
    endpoint_cooldown: float = Field(
        30.0, gt=0, description="seconds a failed endpoint of several stays out of rotation"
    )

    @field_validator("base_url", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        """One URL, a list, or a comma-separated list (how the environment variable holds
        several), kept in order without repeats."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple) and all(isinstance(u, str) for u in value):
            urls = tuple(dict.fromkeys(u.strip() for u in value if u.strip())) or None
            for url in urls or ():
                if not url.lower().startswith(("http://", "https://")):
                    raise ValueError(f"base URL {url!r} needs a scheme: did you mean http://{url}?")
            return urls
        return value  # anything else: pydantic says what is wrong with it

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from summarizer import strategies  # the registry imports the prompt machinery

        known = strategies.names()
        if value not in known:
            raise ValueError(f"unknown strategy {value!r}: use one of {', '.join(known)}")
        return value

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def model_name(self) -> str:
        if self.model:
            return self.model
        return DEFAULT_EMBEDDED_MODEL if self.embedded else DEFAULT_OPENAI_MODEL

    @property
    def request_timeout(self) -> float:
        # A CPU model may take minutes for one long article; a remote one should not.
        return self.timeout or (1800.0 if self.embedded else 180.0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Built directly, only the values given; inside `load`, the values given, then the
        environment, then the config file."""
        loading = _loading.get()
        if loading is None:
            return (init_settings,)
        layers = [init_settings, _Environment(settings_cls)]
        if loading.file is not None:
            layers.append(TomlConfigSettingsSource(settings_cls, toml_file=loading.file))
        return tuple(layers)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Config:
        """Merge defaults, the TOML file, the environment and explicit overrides (None = unset).

        The file is `config_file`, else $SUMMARIZER_CONFIG (both must exist), else the user's
        config file if there is one.
        """
        path = config_file or (Path(p) if (p := os.environ.get(CONFIG_ENV)) else None)
        file = path or default_config_file()
        if path is not None and not file.is_file():
            raise ConfigError(f"config file {path} does not exist")
        token = _loading.set(_Loading(file if file.is_file() else None))
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            raise ConfigError(f"invalid settings: {validation_problems(exc)}") from None
        except (OSError, ValueError) as exc:  # tomllib's errors are ValueErrors
            raise ConfigError(f"config file {file} is unreadable: {exc}") from None
        finally:
            _loading.reset(token)


@dataclass(frozen=True)
class _Loading:
    """A `Config.load` call in progress, and its TOML file (None: no file)."""

    file: Path | None


_loading: ContextVar[_Loading | None] = ContextVar("loading", default=None)


class _Environment(PydanticBaseSettingsSource):
    """The environment variables in `ENV_VARS`, as given: an empty one is unset, and the
    fields' own validators parse them (a comma-separated SUMMARIZER_BASE_URL)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        var = ENV_VARS.get(field_name)
        return (os.environ.get(var) or None) if var else None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {field: os.environ[var] for field, var in ENV_VARS.items() if os.environ.get(var)}
