"""The one error hierarchy of the KATO processor.

Every failure the processor reports is a :class:`KatoError`. Each carries the machine-readable
``code`` and the HTTP ``status`` the service answers with, so the service maps them 1:1 onto
``{"error": {"code", "message", "details"}, "status"}`` without a lookup table of its own.
A method that raises leaves the processor exactly as it was before the call.
"""

from __future__ import annotations

from typing import Any

from kato.contract import error_body


class KatoError(Exception):
    """Base of every processor error; ``code``/``status`` are overridden by the subclasses."""

    code: str = "KATO_ERROR"
    status: int = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON error shape shared by every KATO service."""
        return error_body(self.code, self.message, self.status, self.details)


class ValidationError(KatoError):
    """An observation (or other input) is malformed, e.g. vectors of unequal length."""

    code = "KATO_VALIDATION_ERROR"
    status = 422


class UnknownGeneError(KatoError):
    """``update_genes`` got a name outside the gene table."""

    code = "KATO_UNKNOWN_GENE"
    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown gene: {name}", {"gene": name})


class InvalidGeneValueError(KatoError):
    """A known gene got a value of the wrong type or out of range, or is read-only."""

    code = "KATO_INVALID_GENE_VALUE"
    status = 400


class GeneNotFoundError(KatoError):
    """``get_gene`` was asked for a name it does not know."""

    code = "KATO_GENE_NOT_FOUND"
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Gene {name} not found", {"gene": name})


class PatternNotFoundError(KatoError):
    """No stored pattern has that name; the message echoes the id exactly as given."""

    code = "KATO_PATTERN_NOT_FOUND"
    status = 404

    def __init__(self, pattern_id: str) -> None:
        super().__init__(f"Pattern {pattern_id} not found", {"pattern_id": pattern_id})


class StorageError(KatoError):
    """The pattern store failed; nothing was changed in memory."""

    code = "KATO_STORAGE_ERROR"
    status = 503


class InvalidStateError(KatoError):
    """``import_state`` got a snapshot that does not validate; nothing was changed."""

    code = "KATO_INVALID_STATE"
    status = 422
