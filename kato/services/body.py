"""Reading request bodies: size limit first, then one pydantic pass straight from the JSON bytes.

The size limit is ``kato.web.body`` (shared with the session manager's proxy). Parsing with
``model_validate_json`` (instead of FastAPI's body parameters) lets the limits travel
as validation context and skips an intermediate ``json.loads``, which matters on the observe path.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request

from kato.services.errors import RequestValidationFailed, payload_too_large
from kato.services.models import RequestLimits
from kato.web.body import read_body

ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(
    request: Request, model: type[ModelT], limits: RequestLimits, max_bytes: int
) -> ModelT:
    """The validated body; 422 ``KATO_VALIDATION_ERROR`` on malformed JSON or wrong fields."""
    raw = await read_body(request, max_bytes, payload_too_large)
    try:
        return model.model_validate_json(raw or b"null", context=limits)
    except PydanticValidationError as exc:
        raise RequestValidationFailed.from_pydantic(exc) from None


def validate_payload(model: type[ModelT], payload: Any, limits: RequestLimits) -> ModelT:
    """Validate an already-decoded payload (WebSocket) with the same model and limits as HTTP."""
    try:
        return model.model_validate(payload, context=limits)
    except PydanticValidationError as exc:
        raise RequestValidationFailed.from_pydantic(exc, ("payload",)) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the handler parses itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
