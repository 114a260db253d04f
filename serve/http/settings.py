"""The server's settings: one typed object, filled from `callinkit serve` flags and CALLINKIT_* variables.

Each option is declared once, as a field of `ServerSettings`; its flag (`--max-batch-size`) and its
environment variable (`CALLINKIT_MAX_BATCH_SIZE`) are derived from the field name. Flags win over the
environment, which wins over the defaults.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from callinkit.errors import ConfigError

ENV_PREFIX = "CALLINKIT_"


class ServerSettings(BaseSettings):
    """Everything `create_app` and `callinkit serve` can be told; validated on construction."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    classifier_bundle: Path | None = Field(
        None, description="classifier bundle folder (default: the model shipped with the package)")
    rewriter_bundle: Path | None = Field(
        None, description="rewriter bundle folder (default: the model shipped with the package; 'none' "
                          "for a classifier-only server, where /v1/rewrite, /v1/suggest and the v2 "
                          "'rewriter' model answer 503)")
    rewriter_min_logprob: float | None = Field(
        None, le=0, description="rewriter v2 bundles: the guard's floor on the model's own mean token "
                                "log-probability of a suggestion, instead of the bundle's (higher: fewer and "
                                "better suggestions; -inf: no floor)")
    rewriter_min_logprob_tail: float | None = Field(
        None, le=0, description="rewriter v2 bundles: the guard's floor on the mean of the 5 lowest token "
                                "log-probabilities of a suggestion, instead of the bundle's (-inf: none)")
    device: Literal["cpu", "cuda"] = Field("cpu", description="where onnxruntime runs the models")
    threads: int | None = Field(None, ge=1, description="onnxruntime intra-op threads per model "
                                                         "(default: onnxruntime's choice)")
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 for every interface)")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes; each loads its own models, and "
                                                     "/metrics sums over all of them (PROMETHEUS_MULTIPROC_DIR: "
                                                     "a temporary folder unless set; emptied at start)")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field("info", description="log level")

    max_batch_size: int = Field(32, ge=1, le=1024, description="most texts per model call")
    max_wait_ms: float = Field(0.0, ge=0, le=1000, description="how long the first queued text waits for "
                                                                "others to join its batch (0: none; texts that "
                                                                "arrive while a batch computes still join the next)")
    max_queue: int = Field(256, ge=1, description="texts waiting per model; beyond it requests get 429")
    request_timeout_s: float = Field(30.0, gt=0, le=600, description="deadline of a request's model work; "
                                                                      "past it the request gets 504")
    drain_timeout_s: float = Field(30.0, ge=0, le=3600, description="on SIGTERM, how long requests in flight may "
                                                                  "take to finish (new work and /readyz get 503 "
                                                                  "meanwhile) before the server exits")
    drain_quiet_s: float = Field(0.5, ge=0, le=60, description="on SIGTERM, how long the server still answers "
                                                             "(503) once nothing is left in flight, so that "
                                                             "requests already on their way get an answer "
                                                             "instead of a reset")

    max_texts: int = Field(64, ge=1, description="most texts in one request")
    max_chars: int = Field(2000, ge=1, description="most characters in one text")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body; larger ones get 413")
    max_new_tokens: int = Field(128, ge=1, description="largest max_new_tokens a rewrite request may ask for")
    max_candidates: int = Field(8, ge=1, description="largest num_candidates a rewrite request may ask for")

    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), description="comma-separated bearer tokens; when set, every route but the health checks needs "
                        "`Authorization: Bearer <token>`")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="comma-separated origins allowed to call the API from a browser ('*' for any); "
                        "CORS is off when empty")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _queue_holds_a_request(self) -> ServerSettings:
        if self.max_queue < self.max_texts:
            raise ValueError(f"max_queue ({self.max_queue}) must be at least max_texts ({self.max_texts}), "
                             "or a full-size request could never be queued")
        return self

    def to_env(self) -> dict[str, str]:
        """These settings as CALLINKIT_* variables (for worker processes, which rebuild them from the env)."""
        env: dict[str, str] = {}
        for name, value in self:
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in value)
            env[ENV_PREFIX + name.upper()] = str(value)
        return env


_METAVARS = {"bundle": "DIR", "s": "SECONDS", "ms": "MS", "keys": "KEY,...", "origins": "ORIGIN,..."}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one `--flag` per settings field; values stay strings so pydantic checks them all at once."""
    for name, field in ServerSettings.model_fields.items():
        choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is Literal else None
        last = name.rsplit("_", 1)[-1]
        metavar = None if choices else _METAVARS.get(last, last.upper())
        default = "" if field.default in (None, ()) else f"; default {field.default}"
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS, choices=choices,
                            metavar=metavar, help=f"{field.description} [env {ENV_PREFIX}{name.upper()}{default}]")


def settings_from_args(values: dict[str, Any]) -> ServerSettings:
    """Settings from parsed flags over the environment. Raises ConfigError listing every bad value."""
    try:
        return ServerSettings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            where = f"--{name.replace('_', '-')} / {ENV_PREFIX}{name.upper()}: " if name else ""
            problems.append(where + err["msg"].removeprefix("Value error, "))
        raise ConfigError(problems, source="server settings") from None
