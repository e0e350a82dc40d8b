"""The gene table (QUIRK-8 fix): whitelisted, typed, range-checked, atomic."""

from __future__ import annotations

from typing import Any

import pytest

from kato.processor import (
    GeneNotFoundError,
    InvalidGeneValueError,
    ProcessorConfig,
    UnknownGeneError,
    ValidationError,
)
from kato.processor.genes import GENES, updates_schema
from tests.unit.kato.processor.helpers import learn_sequence, make_processor, observe_all


def test_reference_answers_of_a_default_processor() -> None:
    processor = make_processor()
    expected = {
        "recall_threshold": 0.1, "max_pattern_length": 0, "persistence": 5,
        "max_predictions": 100, "smoothness": 3, "quiescence": 3, "search_depth": 10,
        "sort": True, "SORT": True, "process_predictions": True, "auto_act_method": "none",
        "auto_act_threshold": 0.8, "always_update_frequencies": False, "indexer_type": "VI",
        "time": 0, "name": "KatoProcessor", "id": "unit", "kb_id": "unit", "predict": True,
    }
    assert {name: processor.get_gene(name) for name in expected} == expected


@pytest.mark.parametrize(
    ("genes", "reads"),
    [
        ({"recall_threshold": 1}, {"recall_threshold": 1.0}),
        ({"sort": False}, {"sort": False, "SORT": False}),
        ({"quiescence": 0, "search_depth": 100}, {"quiescence": 0, "search_depth": 100}),
        ({"auto_act_method": "adaptive", "auto_act_threshold": 0.5},
         {"auto_act_method": "adaptive", "auto_act_threshold": 0.5}),
        ({"process_predictions": False, "indexer_type": "VI"},
         {"process_predictions": False, "indexer_type": "VI"}),
        ({"max_pattern_length": 4, "persistence": 100, "smoothness": 10},
         {"max_pattern_length": 4, "persistence": 100, "smoothness": 10}),
        # 4.0 is an integer in JSON and in the documented schema: taken as 4.
        ({"max_pattern_length": 4.0, "max_predictions": 9.0},
         {"max_pattern_length": 4, "max_predictions": 9}),
    ],
)
def test_documented_genes_are_accepted(genes: dict[str, Any], reads: dict[str, Any]) -> None:
    processor = make_processor()
    processor.update_genes(genes)
    assert {name: processor.get_gene(name) for name in reads} == reads


def test_unknown_gene() -> None:
    with pytest.raises(UnknownGeneError) as raised:
        make_processor().update_genes({"STM": []})
    assert (raised.value.code, raised.value.status) == ("KATO_UNKNOWN_GENE", 400)
    assert raised.value.message == "Unknown gene: STM"


@pytest.mark.parametrize(
    "genes",
    [
        {"recall_threshold": "0.5"}, {"recall_threshold": 1.5}, {"recall_threshold": True},
        {"max_predictions": 0}, {"max_pattern_length": -1}, {"persistence": 101},
        {"max_pattern_length": 2.5}, {"sort": 1}, {"auto_act_method": "always"},
        {"indexer_type": "XX"}, {"time": 5}, {"id": "other"},
        {"max_pattern_length": 2**64}, {"max_pattern_length": 2**31},
    ],
)
def test_bad_values_are_rejected(genes: dict[str, Any]) -> None:
    with pytest.raises(InvalidGeneValueError) as raised:
        make_processor().update_genes(genes)
    assert (raised.value.code, raised.value.status) == ("KATO_INVALID_GENE_VALUE", 400)


def test_update_is_atomic() -> None:
    processor = make_processor()
    with pytest.raises(UnknownGeneError):
        processor.update_genes({"recall_threshold": 0.5, "bogus": 1})
    with pytest.raises(InvalidGeneValueError):
        processor.update_genes({"max_predictions": 3, "persistence": 0})
    assert processor.get_gene("recall_threshold") == 0.1
    assert processor.get_gene("max_predictions") == 100


def test_gene_not_found() -> None:
    with pytest.raises(GeneNotFoundError) as raised:
        make_processor().get_gene("nope")
    assert (raised.value.status, raised.value.message) == (404, "Gene nope not found")


def test_predict_false_disables_predictions() -> None:
    processor = make_processor()
    learn_sequence(processor, "a", "b", "c")
    processor.update_genes({"predict": False})
    observe_all(processor, "a", "b")
    assert processor.get_predictions() == []


def test_start_up_values_are_validated_like_updates() -> None:
    with pytest.raises(InvalidGeneValueError):
        make_processor(recall_threshold=1.5)
    with pytest.raises(ValidationError):
        ProcessorConfig(processor_id="x", prediction_log_size=-1)


def test_the_documented_schema_lists_every_gene_and_nothing_else() -> None:
    schema = updates_schema()
    assert set(schema["properties"]) == set(GENES) and schema["additionalProperties"] is False
    assert schema["properties"]["recall_threshold"] == {
        "type": "number", "minimum": 0.0, "maximum": 1.0
    }
