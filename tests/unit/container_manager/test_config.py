"""Config validation and translation of genes/limits into env and Limits."""

from __future__ import annotations

import pytest

from container_manager import ConfigValidationError, ContainerSettings, Limits
from container_manager.config import PROCESSOR_NAME_MAX_LENGTH, parse_config, validate_processor_id
from container_manager.spec import build_spec
from kato import contract
from kato.processor import ProcessorConfig
from kato.services.settings import ServiceSettings


def test_genes_become_env_variables() -> None:
    config = parse_config(
        {
            "max_pattern_length": 5,
            "recall_threshold": 0.2,
            "persistence": 7,
            "max_predictions": 50,
            "sort": True,
            "use_indexing": False,
            "processor_name": "alpha",
        }
    )
    assert config.gene_env() == {
        "MAX_PATTERN_LENGTH": "5",
        "RECALL_THRESHOLD": "0.2",
        "PERSISTENCE": "7",
        "MAX_PREDICTIONS": "50",
        "SORT": "true",
        "SORT_SYMBOLS": "true",
        "KATO_USE_INDEXING": "false",
        "PROCESSOR_NAME": "alpha",
    }


def test_unset_genes_leave_service_defaults() -> None:
    assert parse_config(None).gene_env() == {}


def test_limits_fall_back_to_settings() -> None:
    settings = ContainerSettings(memory_limit="512m", cpu_limit=1.0, pids_limit=256)
    assert parse_config({"cpu_limit": 0.5}).limits(settings) == Limits("512m", 0.5, 256)
    assert parse_config({"memory_limit": "256m", "pids_limit": 128}).limits(settings) == Limits(
        "256m", 1.0, 128
    )


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"max_patern_length": 5}, "max_patern_length"),
        ({"recall_threshold": 1.5}, "recall_threshold"),
        ({"max_pattern_length": -1}, "max_pattern_length"),
        ({"max_pattern_length": 2**31}, "max_pattern_length"),  # the processor refuses it
        ({"max_predictions": 10001}, "max_predictions"),
        ({"memory_limit": "lots"}, "memory_limit"),
        ({"cpu_limit": 0}, "cpu_limit"),
    ],
)
def test_invalid_config_lists_the_field(config: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        parse_config(config)
    assert caught.value.code == "KATO_VALIDATION_ERROR"
    assert isinstance(caught.value, ValueError)
    assert [e["field"] for e in caught.value.details["errors"]] == [field]


@pytest.mark.parametrize("bad", ["", "Upper", "has space", "-lead", "a" * 64, "x/y"])
def test_processor_ids_must_be_name_safe(bad: str) -> None:
    with pytest.raises(ConfigValidationError):
        validate_processor_id(bad)


def test_valid_processor_id_passes() -> None:
    # Was "p-1.a_b": a dotted id launched a container whose processor refused its PROCESSOR_ID.
    assert validate_processor_id("p-1_a-b") == "p-1_a-b"


@pytest.mark.parametrize("bad", ["a.b", "p-1.a_b", "Ab", "ab-", "ab_", "ab\n"])
def test_processor_ids_the_processor_or_the_engine_would_refuse_are_refused(bad: str) -> None:
    with pytest.raises(ConfigValidationError):
        validate_processor_id(bad)


def test_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KATO_IMAGE", "kato:test")
    monkeypatch.setenv("KATO_CONTAINER_PREFIX", "t")
    monkeypatch.setenv("KATO_EXTRA_LABELS", '{"kato.test": "x"}')
    monkeypatch.setenv("KATO_READY_TIMEOUT", "2.5")
    settings = ContainerSettings()
    assert (settings.image, settings.name_prefix, settings.ready_timeout) == ("kato:test", "t", 2.5)
    assert settings.extra_labels == {"kato.test": "x"}


def test_every_launch_environment_is_one_the_processor_starts_with() -> None:
    """Genes at the top of their ranges and a platform id pass the processor's own settings."""
    config = parse_config(
        {
            "max_pattern_length": contract.MAX_PATTERN_LENGTH_RANGE.high,
            "persistence": contract.PERSISTENCE_RANGE.high,
            "recall_threshold": contract.RECALL_THRESHOLD_RANGE.high,
            "max_predictions": contract.MAX_PREDICTIONS_RANGE.high,
            "sort": False,
            "use_indexing": False,
            "processor_name": "n" * PROCESSOR_NAME_MAX_LENGTH,
        }
    )
    settings = ContainerSettings(deployment="d-unit")
    processor_id = validate_processor_id("0a1b2c3d4e5f")
    spec = build_spec(settings, config, processor_id=processor_id, token="t", labels={})
    started = ServiceSettings(**spec.env)
    assert started.processor_id == processor_id and started.processor_token == "t"
    assert started.processor_config() == ProcessorConfig(
        processor_id=processor_id,
        name="n" * PROCESSOR_NAME_MAX_LENGTH,
        max_pattern_length=contract.MAX_PATTERN_LENGTH_RANGE.high,
        persistence=contract.PERSISTENCE_RANGE.high,
        recall_threshold=contract.RECALL_THRESHOLD_RANGE.high,
        max_predictions=contract.MAX_PREDICTIONS_RANGE.high,
        sort=False,
        exhaustive_search=True,
    )


def test_the_operators_otel_settings_reach_every_processor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the passed names (no credentials, no host file paths, no service name); nothing
    else can be passed this way."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/host/ca.pem")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "kato-session-manager")
    settings = ContainerSettings(deployment="d-unit")
    assert settings.otel_env == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }
    spec = build_spec(
        settings, parse_config(None), processor_id="0a1b2c3d4e5f", token="t", labels={}
    )
    assert {k: v for k, v in spec.env.items() if k.startswith("OTEL_")} == settings.otel_env
    with pytest.raises(ValueError, match="LD_PRELOAD"):
        ContainerSettings(deployment="d-unit", otel_env={"LD_PRELOAD": "/x.so"})


def test_without_otel_settings_processors_get_none(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in contract.OTEL_PROCESSOR_ENV:
        monkeypatch.delenv(name, raising=False)
    assert ContainerSettings(deployment="d-unit").otel_env == {}
