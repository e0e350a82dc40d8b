"""Every failure the service reports, as ``{"error": {code, message, details}, "status": N}``.

Processor errors (:class:`kato.processor.KatoError`) carry their own code and status; the service
adds only the errors that exist at the HTTP edge (validation, size, auth, routing, internal).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from kato.processor.errors import KatoError


class FastJSONResponse(JSONResponse):
    """JSON rendered with orjson (non-str keys allowed; NaN/Infinity become null)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS, default=str)


class ServiceError(KatoError):
    """An error raised by the service layer itself (not by the processor)."""

    def __init__(
        self, code: str, status: int, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details)
        self.code = code
        self.status = status


class RequestValidationFailed(ServiceError):
    """A body or message failed pydantic validation; keeps FastAPI's ``detail`` list too."""

    def __init__(self, errors: list[dict[str, Any]], loc_prefix: tuple[str, ...] = ("body",)):
        detail = [jsonable_error(err, loc_prefix) for err in errors]
        summary = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][len(loc_prefix) :]) or 'body'}: {err['msg']}"
            for err in detail[:5]
        )
        super().__init__(
            "KATO_VALIDATION_ERROR", 422, f"Invalid request: {summary}", {"errors": detail}
        )
        self.detail = detail

    @classmethod
    def from_pydantic(
        cls, exc: PydanticValidationError, loc_prefix: tuple[str, ...] = ("body",)
    ) -> RequestValidationFailed:
        return cls(list(exc.errors(include_url=False)), loc_prefix)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["detail"] = self.detail
        return body


def jsonable_error(err: dict[str, Any], loc_prefix: tuple[str, ...]) -> dict[str, Any]:
    """One pydantic error made JSON-safe (``ctx`` may hold exception objects) with a loc prefix."""
    out: dict[str, Any] = {
        "type": err["type"],
        "loc": [*loc_prefix, *err["loc"]],
        "msg": err["msg"],
        "input": _safe(err.get("input")),
    }
    if "ctx" in err:
        out["ctx"] = {key: _safe(value) for key, value in err["ctx"].items()}
    return out


def _safe(value: Any) -> Any:
    try:
        orjson.dumps(value)
    except TypeError:
        return str(value)
    return value


def payload_too_large(size: int, limit: int) -> ServiceError:
    return ServiceError(
        "KATO_PAYLOAD_TOO_LARGE",
        413,
        f"Request body of {size} bytes exceeds the limit of {limit} bytes",
        {"limit_bytes": limit},
    )


def error_response(exc: KatoError, headers: dict[str, str] | None = None) -> Response:
    return FastJSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


_HTTP_CODES = {
    401: "KATO_UNAUTHORIZED",
    404: "KATO_NOT_FOUND",
    405: "KATO_METHOD_NOT_ALLOWED",
    413: "KATO_PAYLOAD_TOO_LARGE",
}


async def _on_kato_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, KatoError)
    return error_response(exc)


def _http_error_handler(
    routes: Sequence[BaseRoute],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"KATO_HTTP_{exc.status_code}")
        error = ServiceError(code, exc.status_code, str(exc.detail))
        body = {**error.to_dict(), "detail": exc.detail}  # FastAPI's own key, for old clients
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(routes, request.scope)
        return FastJSONResponse(body, status_code=exc.status_code, headers=headers)

    return on_http_error


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """Every method some route serves at this path (HEAD wherever GET is; see middleware).

    Starlette names only the methods of the first route whose path matched, and one path often
    has several routes (``GET`` and ``POST /predictions``, ``GET`` and ``PUT /state``).
    """
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _on_request_validation(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(RequestValidationFailed([dict(err) for err in exc.errors()], ()))


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Map processor, HTTP and validation errors onto the shared JSON shape; a 405 names in
    ``Allow`` the methods of ``routes`` (every HTTP route of the app) at that path."""
    app.add_exception_handler(KatoError, _on_kato_error)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler(routes))
    app.add_exception_handler(RequestValidationError, _on_request_validation)


def internal_error_body(exc: BaseException) -> dict[str, Any]:
    """Body of the 500 answer to an unhandled exception (type only: no internals leak)."""
    return ServiceError(
        "KATO_INTERNAL_ERROR",
        500,
        "An unexpected error occurred",
        {"error": type(exc).__name__},
    ).to_dict()
