"""Vector symbols (spec §2.4, Appendix A) and the unequal-length rejection (QUIRK-14 fix)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kato.processor import ValidationError
from kato.processor.vectors import validate_vectors, vector_symbol
from tests.unit.kato.processor.helpers import make_processor, obs


@pytest.mark.parametrize(
    ("vectors", "name"),
    [
        ([[0.5, 0.5], [1.0, 0.0]], "VCTR|f11daefdddee30b6a7a043c084fad802f0553a99"),
        ([[1.0, 2.0, 3.0]], "VCTR|fe5de4472f7e4d5c9cdd19cadebfa06fe3da8e43"),
        ([[1.0, 0.0, 0.0]], "VCTR|9d58821e286eae6a77923d694a12ede7cbeabfbd"),
        ([[0.1, 0.2, 0.3]], "VCTR|e09ff768f2b2a0f5d5e78932dc977709e8c35f57"),
        ([[1e-05, 1.0]], "VCTR|db4d58e9dcc12fc54db9cdf0d30e335dd650407e"),
        ([[1.0, 2.0]], "VCTR|6786a5fc0b30a70ed8fdbaaa451e7c26b5d6c359"),
        ([[3.0, 4.0]], "VCTR|4f3f3ee04c71a194ada932746e703ab1c6f80024"),
        ([[]], "VCTR|97d170e1550eee4afc0af065b78cda302a97674c"),
    ],
)
def test_vector_names_match_appendix_a(vectors: list[list[float]], name: str) -> None:
    assert vector_symbol(vectors) == name


def test_vectors_differing_beyond_print_precision_collide() -> None:
    assert vector_symbol([[0.1, 0.2], [0.2, 0.1]]) == vector_symbol([[0.3, 0.3]])


def test_unequal_lengths_are_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        validate_vectors([[1.0, 2.0], [1.0, 2.0, 3.0]])
    assert raised.value.code == "KATO_VALIDATION_ERROR"
    assert raised.value.status == 422


def test_mixed_event_puts_vector_symbol_first() -> None:
    processor = make_processor()
    processor.observe(obs(["multi", "modal"], [[0.5, 0.5], [1.0, 0.0]]))
    assert processor.stm == [
        ["VCTR|f11daefdddee30b6a7a043c084fad802f0553a99", "modal", "multi"]
    ]


def test_rejected_vectors_leave_time_and_stm_unchanged() -> None:
    processor = make_processor()
    processor.observe(obs(["a"]))
    with pytest.raises(ValidationError):
        processor.observe(obs(["b"], [[1.0], [1.0, 2.0]]))
    assert processor.time == 1
    assert processor.stm == [["a"]]


def test_numpy_is_not_imported_for_text_observations() -> None:
    code = (
        "import sys\n"
        "from kato.processor import KatoProcessor, Observation, ProcessorConfig\n"
        "from kato.processor.store.memory import MemoryStore\n"
        "p = KatoProcessor(ProcessorConfig('x'), MemoryStore())\n"
        "p.observe(Observation(['a', 'b'], [], {}, 'u'))\n"
        "p.learn()\n"
        "print('numpy' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
