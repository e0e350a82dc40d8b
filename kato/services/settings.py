"""Configuration of one processor service, read once from the environment at start-up.

Every field below names its environment variable and default. The processor genes (``PERSISTENCE``
…) only seed the processor; runtime changes go through ``POST /genes/update``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kato import contract
from kato.contract import GENE_ENV, FloatRange, IntRange
from kato.processor import ProcessorConfig
from kato.web.settings_errors import read_settings

#: How the service names itself in a start-up error.
PROGRAM = "kato-processor"


def default_data_dir() -> Path:
    """``/data`` in a container (or wherever ``/data`` is a writable dir), else ``./data``."""
    data = Path("/data")
    if Path("/.dockerenv").exists() or (data.is_dir() and os.access(data, os.W_OK)):
        return data
    return Path("data")


def _limit(default: int, env: str, what: str) -> Any:
    """A size limit read from ``env``; requests above it get 422 KATO_VALIDATION_ERROR."""
    return Field(
        default=default,
        ge=0,
        validation_alias=env,
        description=f"{env} ({default}): maximum {what}.",
    )


#: The engine's own start-up values (`ProcessorConfig`): what a variable left unset means.
_ENGINE: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ProcessorConfig)}


def _gene(gene: str, bounds: IntRange | FloatRange, description: str) -> Any:
    """A start-up gene read from its contract variable, defaulting to the engine's value; values
    outside the contract's range stop start-up (the platform validates against the same range
    before it launches)."""
    default = _ENGINE[gene]
    return Field(
        default=default,
        ge=bounds.low,
        le=bounds.high,
        validation_alias=GENE_ENV[gene],
        description=f"{GENE_ENV[gene]} ({default}){description}",
    )


class ServiceSettings(BaseSettings):
    """One processor container's settings (env var names are the upper-case field names)."""

    # No populate_by_name: it would also read bare HOST, DATA_DIR, ... from the environment.
    # Code constructing settings passes the documented names (e.g. KATO_DATA_DIR=...).
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # --- processor identity and genes -----------------------------------------------------------
    processor_id: str = Field(
        pattern=f"^{contract.PROCESSOR_ID_PATTERN}$",
        validation_alias=contract.ENV_PROCESSOR_ID,
        description=f"PROCESSOR_ID (required; {contract.PROCESSOR_ID_RULE}): SQLite file / "
        "database name.",
    )
    processor_name: str = Field(
        default=_ENGINE["name"],
        validation_alias=GENE_ENV["processor_name"],
        description=f"PROCESSOR_NAME ({_ENGINE['name']}).",
    )
    max_pattern_length: int = _gene(
        "max_pattern_length",
        contract.MAX_PATTERN_LENGTH_RANGE,
        ": 0 = manual learn; at most 2**31 - 1.",
    )
    persistence: int = _gene("persistence", contract.PERSISTENCE_RANGE, ": emotive window.")
    recall_threshold: float = _gene("recall_threshold", contract.RECALL_THRESHOLD_RANGE, ".")
    max_predictions: int = _gene("max_predictions", contract.MAX_PREDICTIONS_RANGE, ".")
    sort: bool = Field(
        default=_ENGINE["sort"],
        validation_alias=AliasChoices(GENE_ENV["sort"], contract.ENV_SORT_ALIAS),
        description="SORT_SYMBOLS or SORT (true): sort symbols inside an event.",
    )
    use_indexing: bool = Field(
        default=not _ENGINE["exhaustive_search"],
        validation_alias=GENE_ENV["use_indexing"],
        description="KATO_USE_INDEXING (true): reference candidate pre-filter; false = exhaustive.",
    )

    # --- storage --------------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        validation_alias=contract.ENV_DATA_DIR,
        description="KATO_DATA_DIR (/data in a container, else ./data): SQLite files.",
    )
    mongo_url: str | None = Field(
        default=None, description="MONGO_URL (unset = SQLite in KATO_DATA_DIR)."
    )
    postgres_url: SecretStr | None = Field(
        default=None,
        validation_alias="KATO_POSTGRES_URL",
        description="KATO_POSTGRES_URL (unset = SQLite in KATO_DATA_DIR): PostgreSQL instead, "
        "schema kato_<PROCESSOR_ID>; secret, so its password never shows in a repr or log.",
    )
    persist_state: bool = Field(
        default=_ENGINE["persist_state"],
        validation_alias="KATO_PERSIST_STATE",
        description="KATO_PERSIST_STATE (true): keep STM, genes, emotives, time and predictions "
        "on the store, so a crash or restart resumes them; false = in memory only (upstream).",
    )

    # --- serving --------------------------------------------------------------------------------
    log_level: str = Field(
        default="INFO",
        description="LOG_LEVEL (INFO): JSON lines; failed requests at INFO, all at DEBUG.",
    )
    host: str = Field(
        default="127.0.0.1",
        validation_alias="KATO_HOST",
        description="KATO_HOST (127.0.0.1) for `python -m kato.services`; containers pass 0.0.0.0.",
    )
    port: int = Field(default=8000, description="PORT (8000) for `python -m kato.services`.")
    processor_token: str | None = Field(
        default=None,
        validation_alias=contract.ENV_TOKEN,
        description=(
            "KATO_PROCESSOR_TOKEN (unset = open API): Bearer token for all but the probes "
            "(/health, /health/live, /health/ready, /health/startup)."
        ),
    )
    processor_token_file: Path | None = Field(
        default=None,
        validation_alias=contract.ENV_TOKEN_FILE,
        description=(
            "KATO_PROCESSOR_TOKEN_FILE (unset): file holding the token (a Docker secret on "
            "Swarm); read once at start-up, takes the place of KATO_PROCESSOR_TOKEN."
        ),
    )

    @model_validator(mode="after")
    def _one_shared_store(self) -> ServiceSettings:
        if self.postgres_url is not None and self.mongo_url:
            raise ValueError("set KATO_POSTGRES_URL or MONGO_URL, not both")
        return self

    @model_validator(mode="after")
    def _token_from_file(self) -> ServiceSettings:
        if self.processor_token_file is not None:
            try:
                token = self.processor_token_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read KATO_PROCESSOR_TOKEN_FILE: {exc.strerror}") from None
            self.processor_token = token or None
        return self

    # --- input limits ---------------------------------------------------------------------------
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1,
        validation_alias="KATO_MAX_BODY_BYTES",
        description="KATO_MAX_BODY_BYTES (4 MiB): larger request bodies get 413.",
    )
    max_state_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        validation_alias="KATO_MAX_STATE_BYTES",
        description="KATO_MAX_STATE_BYTES (256 MiB): body limit of PUT /state only.",
    )
    max_import_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        validation_alias="KATO_MAX_IMPORT_BYTES",
        description="KATO_MAX_IMPORT_BYTES (256 MiB): body limit of PUT/POST /import only.",
    )
    max_symbols_per_event: int = _limit(1000, "KATO_MAX_SYMBOLS_PER_EVENT", "strings per event")
    max_symbol_length: int = _limit(1024, "KATO_MAX_SYMBOL_LENGTH", "characters per symbol")
    max_vectors: int = _limit(64, "KATO_MAX_VECTORS", "vectors per observation")
    max_vector_dim: int = _limit(4096, "KATO_MAX_VECTOR_DIM", "components per vector")
    max_emotives: int = _limit(64, "KATO_MAX_EMOTIVES", "emotives per observation")
    max_sequence_length: int = _limit(
        1000, "KATO_MAX_SEQUENCE_LENGTH", "observations per /observe-sequence"
    )

    def processor_config(self) -> ProcessorConfig:
        """The engine's start-up configuration derived from these settings."""
        return ProcessorConfig(
            processor_id=self.processor_id,
            name=self.processor_name,
            max_pattern_length=self.max_pattern_length,
            persistence=self.persistence,
            recall_threshold=self.recall_threshold,
            max_predictions=self.max_predictions,
            sort=self.sort,
            exhaustive_search=not self.use_indexing,
            persist_state=self.persist_state,
        )


def load_settings() -> ServiceSettings:
    """Read the environment once; a missing ``PROCESSOR_ID`` or a bad value stops start-up with
    one line on stderr naming the variable, exit status 2 (``kato.web.settings_errors``)."""
    return read_settings(ServiceSettings, PROGRAM)
