"""Pydantic models of the HTTP/WebSocket edge.

Request models are validated with :class:`RequestLimits` passed as the pydantic validation
*context*, so the same model enforces the deployment's size limits for HTTP and WebSocket alike
(QUIRK-10 fixed). Without a context (e.g. when only rendering the schema) no limits apply.

Response models exist for the OpenAPI docs only; handlers build plain dicts on the hot path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kato.processor.genes import updates_schema
from kato.processor.state import state_schema


@dataclass(frozen=True)
class RequestLimits:
    """How large one request may be (symbols, vectors, emotives, sequence length); values and
    defaults are the ``KATO_MAX_*`` settings of the same names
    (:func:`kato.services.runtime.limits_from`)."""

    max_symbols_per_event: int
    max_symbol_length: int
    max_vectors: int
    max_vector_dim: int
    max_emotives: int
    max_sequence_length: int


#: JSON-number text that is always finite as a float: at most 16 integer digits and a positive
#: exponent of at most 291 (below 1e307); "1e400" would be infinity, which no answer can carry.
_NUMERIC = (
    r"^-?(0|[1-9][0-9]{0,15})(\.[0-9]+)?"
    r"([eE](-[0-9]+|\+?0*([0-9]{1,2}|1[0-9]{2}|2[0-8][0-9]|29[01])))?$"
)
_NUMERIC_TEXT = re.compile(_NUMERIC)


def _number_or_numeric_text(value: Any) -> Any:
    """Numbers given as JSON-number text (``"2.5"``) stay accepted, as upstream's lax parsing
    took them; any other string, and booleans (which it took for 0/1), are refused."""
    if isinstance(value, str):
        if not _NUMERIC_TEXT.fullmatch(value):
            raise PydanticCustomError("number_type", "Input should be a number")
        return float(value)
    return value


#: A finite number: a JSON number or its text; never a boolean, another string, NaN or ±inf.
Number = Annotated[
    float,
    Strict(),
    AllowInfNan(False),
    BeforeValidator(_number_or_numeric_text),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": _NUMERIC}]}),
]


def _limits(info: ValidationInfo) -> RequestLimits | None:
    context = info.context
    if isinstance(context, RequestLimits):
        return context
    return None


def _check_length(what: str, text: str, limits: RequestLimits) -> None:
    """Symbols, emotive names and observation ids share ``KATO_MAX_SYMBOL_LENGTH``."""
    if len(text) > limits.max_symbol_length:
        raise PydanticCustomError(
            "symbol_too_long",
            "{what} of {length} characters exceeds the limit of {limit}",
            {"what": what, "length": len(text), "limit": limits.max_symbol_length},
        )


def _too_many(what: str, count: int, limit: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_many",
        "{what}: {count} exceeds the limit of {limit}",
        {"what": what, "count": count, "limit": limit},
    )


class ObservationData(BaseModel):
    """One observation (spec §2.1). Missing fields default to empty; numbers are never strings."""

    model_config = ConfigDict(extra="ignore")

    strings: list[StrictStr] = Field(default_factory=list, description="Symbols of this event.")
    vectors: list[list[Number]] = Field(
        default_factory=list, description="Vectors of equal length, summed into one VCTR| symbol."
    )
    emotives: dict[str, Number] = Field(default_factory=dict, description="Emotive values.")
    unique_id: StrictStr | None = Field(None, description="Generated when absent or empty.")

    @field_validator("strings")
    @classmethod
    def _check_strings(cls, value: list[str], info: ValidationInfo) -> list[str]:
        limits = _limits(info)
        if limits is None:
            return value
        if len(value) > limits.max_symbols_per_event:
            raise _too_many("strings", len(value), limits.max_symbols_per_event)
        for symbol in value:
            _check_length("a symbol", symbol, limits)
        return value

    @field_validator("vectors")
    @classmethod
    def _check_vectors(cls, value: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        if value and any(len(vector) != len(value[0]) for vector in value):
            raise PydanticCustomError(
                "unequal_vector_lengths",
                "all vectors of one observation must have the same length, got {lengths}",
                {"lengths": [len(vector) for vector in value]},
            )
        limits = _limits(info)
        if limits is None:
            return value
        if len(value) > limits.max_vectors:
            raise _too_many("vectors", len(value), limits.max_vectors)
        if value and len(value[0]) > limits.max_vector_dim:
            raise _too_many("vector dimension", len(value[0]), limits.max_vector_dim)
        return value

    @field_validator("emotives")
    @classmethod
    def _check_emotives(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        limits = _limits(info)
        if limits is not None:
            if len(value) > limits.max_emotives:
                raise _too_many("emotives", len(value), limits.max_emotives)
            for name in value:
                _check_length("an emotive name", name, limits)
        return value

    @field_validator("unique_id")
    @classmethod
    def _check_unique_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        limits = _limits(info)
        if limits is not None and value is not None:
            _check_length("unique_id", value, limits)
        return value


class ObserveSequenceRequest(BaseModel):
    """Body of ``POST /observe-sequence``; validated completely before anything is observed."""

    model_config = ConfigDict(extra="ignore")

    observations: list[ObservationData]
    learn_after_each: StrictBool = False
    learn_at_end: StrictBool = False
    clear_stm_between: StrictBool = False

    @field_validator("observations")
    @classmethod
    def _check_count(
        cls, value: list[ObservationData], info: ValidationInfo
    ) -> list[ObservationData]:
        limits = _limits(info)
        if limits is not None and len(value) > limits.max_sequence_length:
            raise _too_many("observations", len(value), limits.max_sequence_length)
        return value


class GenesUpdate(BaseModel):
    """Body of ``POST /genes/update``; names and values are checked by the processor (an
    unknown name is a 400, spec §6), and the schema lists exactly what it accepts."""

    genes: Annotated[dict[str, Any], WithJsonSchema(updates_schema())]


class StateSnapshot(BaseModel):
    """Body of ``PUT /state``: exactly what ``GET /state`` returned (validated by the processor,
    whose rules the schema states)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=state_schema())


class WsMessage(BaseModel):
    """A WebSocket request: ``{"type": ..., "payload": {...}}`` (payload optional, spec §7.15).

    Any other key is refused: a message that says ``data`` instead of ``payload`` used to be
    an empty observation, silently.
    """

    model_config = ConfigDict(extra="forbid")

    type: StrictStr
    payload: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            unknown = sorted(str(key) for key in value if key not in cls.model_fields)
            if unknown:
                raise PydanticCustomError(
                    "unknown_message_keys",
                    'unknown key(s) {unknown}: a message has only "type" and "payload"',
                    {"unknown": ", ".join(unknown)},
                )
        return value


class WsObservation(ObservationData):
    """Payload of the WebSocket ``observe`` message: the HTTP body's fields and nothing else
    (upstream read exactly these keys; a misspelt one must not become an empty observation)."""

    model_config = ConfigDict(extra="forbid")


class PredictionsQuery(BaseModel):
    """Payload of the WebSocket ``get_predictions`` message: ``{}`` or ``{"unique_id": X}``
    (spec §7.15: any other non-empty payload is an error)."""

    model_config = ConfigDict(extra="forbid")

    unique_id: StrictStr | None = None


# --- response models (documentation only) ---------------------------------------------------------

# Built when the OpenAPI schema is first rendered, not at import (start-up time).
_DOCS_ONLY = ConfigDict(defer_build=True)


class ErrorDetail(BaseModel):
    model_config = _DOCS_ONLY

    code: str = Field(examples=["KATO_VALIDATION_ERROR"])
    message: str
    #: ``trace_id``: the request's W3C trace id.
    details: dict[str, Any] = Field(default_factory=dict)
    #: UTC, ISO 8601, milliseconds.
    timestamp: str


class ErrorResponse(BaseModel):
    """Every error: ``{"error": {...}, "status": N}`` (422s also carry FastAPI's ``detail``)."""

    model_config = _DOCS_ONLY

    error: ErrorDetail
    status: int


class ObserveResponse(BaseModel):
    model_config = _DOCS_ONLY

    status: str = "okay"
    processor_id: str
    auto_learned_pattern: str | None
    time: int
    unique_id: str


class ObserveSequenceResponse(BaseModel):
    model_config = _DOCS_ONLY

    status: str = "okay"
    processor_id: str
    observations_processed: int
    patterns_learned: list[str]
    individual_results: list[ObserveResponse]
    final_predictions: list[dict[str, Any]] | None


class StmResponse(BaseModel):
    model_config = _DOCS_ONLY

    stm: list[list[str]]
    processor_id: str


class LearnResponse(BaseModel):
    model_config = _DOCS_ONLY

    pattern_name: str
    processor_id: str
    message: str


class StatusMessage(BaseModel):
    model_config = _DOCS_ONLY

    status: str = "okay"
    message: str
    processor_id: str


class PredictionsResponse(BaseModel):
    model_config = _DOCS_ONLY

    predictions: list[dict[str, Any]]
    processor_id: str


class PatternResponse(BaseModel):
    model_config = _DOCS_ONLY

    pattern: dict[str, Any]
    processor_id: str


class GeneResponse(BaseModel):
    model_config = _DOCS_ONLY

    gene_name: str
    gene_value: Any
    processor_id: str


class HealthResponse(BaseModel):
    model_config = _DOCS_ONLY

    status: str = "healthy"
    processor_id: str
    uptime: float


class ProbeResponse(BaseModel):
    """``/health/live`` answers only ``status``; startup and ready add the processor's id and
    uptime."""

    model_config = _DOCS_ONLY

    status: str
    processor_id: str | None = None
    uptime: float | None = None


class StatusResponse(BaseModel):
    model_config = _DOCS_ONLY

    status: str = "okay"
    processor_id: str
    processor_name: str
    uptime: float
    stm_length: int
    time: int


class PerceptResponse(BaseModel):
    model_config = _DOCS_ONLY

    percept_data: dict[str, Any]
    processor_id: str


class CognitionResponse(BaseModel):
    model_config = _DOCS_ONLY

    cognition_data: dict[str, Any]
    processor_id: str


class MetricsResponse(BaseModel):
    model_config = _DOCS_ONLY

    processor_id: str
    observations_processed: int
    patterns_learned: int
    stm_size: int
    uptime_seconds: float
