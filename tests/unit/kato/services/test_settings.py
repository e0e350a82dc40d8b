"""ServiceSettings: env names, defaults, aliases, and a clear failure without PROCESSOR_ID."""

from __future__ import annotations

from pathlib import Path

import pytest

from kato.processor import ProcessorConfig
from kato.services import settings as settings_module
from kato.services.settings import ServiceSettings, load_settings
from kato.web.settings_errors import BadSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p-1")
    settings = load_settings()
    config = settings.processor_config()
    assert (config.processor_id, config.name) == ("p-1", "KatoProcessor")
    assert (config.max_pattern_length, config.persistence, config.recall_threshold) == (0, 5, 0.1)
    assert (config.max_predictions, config.sort, config.exhaustive_search) == (100, True, False)
    assert settings.mongo_url is None and settings.processor_token is None
    assert settings.postgres_url is None
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", 8000, "INFO")
    assert settings.max_body_bytes == 4 * 1024 * 1024
    assert (settings.max_symbols_per_event, settings.max_symbol_length) == (1000, 1024)
    assert (settings.max_vectors, settings.max_vector_dim, settings.max_emotives) == (64, 4096, 64)
    assert settings.max_sequence_length == 1000


def test_unset_variables_mean_the_engines_own_start_up_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p-1")
    assert load_settings().processor_config() == ProcessorConfig(processor_id="p-1")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "PROCESSOR_ID": "p-2",
        "PROCESSOR_NAME": "Other",
        "MAX_PATTERN_LENGTH": "3",
        "RECALL_THRESHOLD": "0.4",
        "KATO_USE_INDEXING": "false",
        "KATO_DATA_DIR": str(tmp_path),
        "KATO_PROCESSOR_TOKEN": "t",
        "KATO_MAX_VECTORS": "2",
        "KATO_HOST": "0.0.0.0",
        "PORT": "9001",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    config = settings.processor_config()
    assert (config.name, config.max_pattern_length, config.recall_threshold) == ("Other", 3, 0.4)
    assert config.exhaustive_search is True
    assert settings.data_dir == tmp_path and settings.processor_token == "t"
    assert (settings.max_vectors, settings.host, settings.port) == (2, "0.0.0.0", 9001)


def test_postgres_url_is_read_and_kept_out_of_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv("KATO_POSTGRES_URL", "postgresql://kato_p:hunter2@db:5432/kato")
    settings = load_settings()
    assert settings.postgres_url is not None
    assert settings.postgres_url.get_secret_value() == "postgresql://kato_p:hunter2@db:5432/kato"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def test_two_shared_stores_are_a_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv("KATO_POSTGRES_URL", "postgresql://kato_p:hunter2@db/kato")
    monkeypatch.setenv("MONGO_URL", "mongodb://db")
    with pytest.raises(BadSettings, match="not both") as failure:
        load_settings()
    assert "hunter2" not in str(failure.value)


@pytest.mark.parametrize("name", ["SORT", "SORT_SYMBOLS"])
def test_sort_is_read_from_both_names(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """QUIRK-9 fixed: the documented SORT works as well as SORT_SYMBOLS."""
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv(name, "false")
    assert load_settings().processor_config().sort is False


def test_missing_processor_id_is_a_clear_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROCESSOR_ID", raising=False)
    with pytest.raises(BadSettings) as failure:
        load_settings()
    assert "PROCESSOR_ID is required" in str(failure.value)


def test_out_of_range_gene_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv("RECALL_THRESHOLD", "1.5")
    with pytest.raises(BadSettings, match="RECALL_THRESHOLD"):
        load_settings()


@pytest.mark.parametrize("value", [str(2**64), str(2**31)])
def test_gene_beyond_its_range_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv("MAX_PATTERN_LENGTH", value)
    with pytest.raises(BadSettings, match="MAX_PATTERN_LENGTH"):
        load_settings()


def test_data_dir_outside_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module.Path, "exists", lambda self: False)
    monkeypatch.setattr(settings_module.Path, "is_dir", lambda self: False)
    assert settings_module.default_data_dir() == Path("data")
    assert ServiceSettings(processor_id="p").data_dir == Path("data")


def test_data_dir_inside_a_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module.Path, "exists", lambda self: str(self) == "/.dockerenv")
    assert settings_module.default_data_dir() == Path("/data")


def test_only_documented_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "p")
    monkeypatch.setenv("HOST", "10.0.0.1")
    monkeypatch.setenv("PROCESSOR_TOKEN", "leak")
    monkeypatch.setenv("USE_INDEXING", "false")
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.processor_token is None and settings.use_indexing is True


def test_processor_id_must_be_a_safe_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_ID", "../etc")
    with pytest.raises(BadSettings, match="PROCESSOR_ID"):
        load_settings()
