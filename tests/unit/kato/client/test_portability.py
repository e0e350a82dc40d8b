"""Export and import of a processor's whole memory through the client (sync and async:
`flavour`), on the real processor service."""

from __future__ import annotations

from typing import Any

import pytest

from kato.client import ValidationError
from kato.web.launcher import ThreadServer
from tests.unit.kato.client.support import TOKEN, Flavour


def _teach(kato: Any) -> None:
    for events in ((["a"], ["b"], ["c"]), (["a"], ["b"], ["d"])):
        for strings in events:
            kato.observe(strings=strings)
        kato.learn()
    kato.observe(strings=["a"])
    kato.observe(strings=["b"])


def test_export_then_import_brings_the_same_memory_back(
    service: ThreadServer, flavour: Flavour
) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato:
        _teach(kato)
        before = (kato.stm(), kato.predictions())
        document = b"".join(kato.export())
        assert document.startswith(b"{") and b'"end"' in document.splitlines()[-1]
        kato.clear_all()
        assert kato.predictions().predictions == []
        result = kato.import_memory(iter([document[:100], document[100:]]))
        assert (result.patterns, result.processor_id) == (2, "client-unit")
        assert (kato.stm(), kato.predictions()) == before


def test_a_damaged_document_is_refused_and_changes_nothing(
    service: ThreadServer, flavour: Flavour
) -> None:
    with flavour.ProcessorClient(service.url, TOKEN) as kato:
        _teach(kato)
        document = b"".join(kato.export())
        before = kato.predictions()
        with pytest.raises(ValidationError) as caught:
            kato.import_memory(document[: len(document) // 2])
        assert caught.value.code == "KATO_INVALID_EXPORT"
        assert kato.predictions() == before
