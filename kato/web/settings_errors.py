"""A bad setting at start-up as one line naming the variable, then exit status 2.

Every entry point (``python -m session_manager``, ``python -m kato.services``, the processor
image's ``uvicorn kato.services.kato_fastapi:app``, ``katoctl``) reads its settings objects
inside :func:`exit_on_bad_settings`, so an operator who typed ``KATO_WEBHOOK_MAX_ATTEMPTS=1000``
reads ::

    kato-manager: KATO_WEBHOOK_MAX_ATTEMPTS=1000 is invalid: must be at most 100 (allowed 1..100)

on stderr instead of pydantic's traceback. :func:`describe` maps a field back to the variable
the settings class reads it from (its ``validation_alias``, else ``env_prefix`` + the field's
name) and words the problem with the field's declared bounds. Values of secrets (fields whose
name says key, token, secret or password) are never echoed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsError

__all__ = [
    "EXIT_BAD_SETTINGS",
    "BadSettings",
    "describe",
    "exit_on_bad_settings",
    "read_settings",
]

S = TypeVar("S", bound=BaseSettings)

#: The exit status of a process stopped by a bad setting (2: a usage error, as click's).
EXIT_BAD_SETTINGS = 2

_SECRET = re.compile(r"key|token|secret|password", re.IGNORECASE)
_PARSE_FAILURE = re.compile(r'error parsing value for field "(?P<field>[^"]+)"')
_SHOWN_CHARS = 80

#: pydantic error type → how the line words it (ctx values filled in).
_PROBLEMS: Mapping[str, str] = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "int_type": "not an integer",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "bool_parsing": "not a boolean (true/false, 1/0, yes/no, on/off)",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "json_invalid": "not valid JSON",
    "dict_type": "not a JSON object",
}


class BadSettings(SystemExit):
    """Start-up stopped by a bad setting; ``line`` is what was printed on stderr."""

    def __init__(self, line: str) -> None:
        super().__init__(EXIT_BAD_SETTINGS)
        self.line = line

    def __str__(self) -> str:
        return self.line


def read_settings(settings: type[S], program: str, **values: Any) -> S:
    """``settings(**values)`` (the rest from the environment), or, when a value is bad, the
    line on stderr and :class:`BadSettings`."""
    try:
        return settings(**values)
    except (ValidationError, SettingsError) as exc:
        raise _stopped(program, exc, settings) from None


@contextmanager
def exit_on_bad_settings(program: str, *settings: type[BaseSettings]) -> Iterator[None]:
    """Like :func:`read_settings` for every one of ``settings`` the block builds (where the
    block is code that builds them itself, such as an app factory).

    Validation errors of other models pass through unchanged: they are not configuration.
    """
    try:
        yield
    except (ValidationError, SettingsError) as exc:
        owner = _owner(exc, settings)
        if owner is None:
            raise
        raise _stopped(program, exc, owner) from None


def _stopped(
    program: str, exc: ValidationError | SettingsError, settings: type[BaseSettings]
) -> BadSettings:
    line = f"{program}: {describe(exc, settings)}"
    print(line, file=sys.stderr, flush=True)
    return BadSettings(line)


def describe(exc: ValidationError | SettingsError, settings: type[BaseSettings]) -> str:
    """One line for every problem of ``exc`` (``; ``-separated), each naming its variable."""
    if isinstance(exc, SettingsError):
        return _describe_unparsable(exc, settings)
    return "; ".join(_describe_error(error, settings) for error in exc.errors())


def _owner(
    exc: ValidationError | SettingsError, candidates: Sequence[type[BaseSettings]]
) -> type[BaseSettings] | None:
    if isinstance(exc, ValidationError):
        return next((c for c in candidates if c.__name__ == exc.title), None)
    match = _PARSE_FAILURE.search(str(exc))  # pydantic-settings names the field, not the class
    field = match["field"] if match else None
    return next((c for c in candidates if field in c.model_fields), None)


def _describe_error(error: Any, settings: type[BaseSettings]) -> str:
    ctx = error.get("ctx") or {}
    if not error["loc"]:  # a model validator: its message names its variables itself
        cause = ctx.get("error")
        return str(cause) if cause is not None else str(error["msg"])
    name, field = _field(settings, str(error["loc"][0]))
    variable = _variable(settings, name, field)
    if error["type"] == "missing":
        return f"{variable} is required but unset"
    template = _PROBLEMS.get(error["type"])
    problem = template.format(**{k: _number(v) for k, v in ctx.items()}) if template else None
    if problem is None:
        message = str(error["msg"])
        problem = message[:1].lower() + message[1:]
    if len(error["loc"]) > 1:  # inside a JSON value: which part
        problem += f" (at {'.'.join(str(part) for part in error['loc'][1:])})"
    allowed = _allowed(field) if field is not None else ""
    shown = _shown(name, variable, error["input"])
    return f"{variable}={shown} is invalid: {problem}{f' ({allowed})' if allowed else ''}"


def _describe_unparsable(exc: SettingsError, settings: type[BaseSettings]) -> str:
    match = _PARSE_FAILURE.search(str(exc))
    name, field = _field(settings, match["field"] if match else "")
    variable = _variable(settings, name, field)
    cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
    return f"{variable}={_shown(name, variable, None)} is invalid: not valid JSON{cause}"


def _field(settings: type[BaseSettings], loc: str) -> tuple[str, FieldInfo | None]:
    """The field an error location names: its name, or one of its aliases (case-blind)."""
    if loc in settings.model_fields:
        return loc, settings.model_fields[loc]
    for name, field in settings.model_fields.items():
        if loc.upper() in (alias.upper() for alias in _aliases(field)):
            return name, field
    return loc, None


def _aliases(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


def _variable(settings: type[BaseSettings], name: str, field: FieldInfo | None) -> str:
    """The environment variable the field is read from: the alias set in the environment
    (a field may accept several), else its first alias, else prefix + name."""
    aliases = _aliases(field) if field is not None else []
    present = {key.upper() for key in os.environ}
    for alias in aliases:
        if alias.upper() in present:
            return alias.upper()
    if aliases:
        return aliases[0].upper()
    return f"{settings.model_config.get('env_prefix', '')}{name}".upper()


def _shown(name: str, variable: str, value: object) -> str:
    """What the operator set (the raw variable when it is set), printable, on one line."""
    if _SECRET.search(name):
        return "<hidden>"
    raw = next((v for k, v in os.environ.items() if k.upper() == variable), None)
    text = raw if raw is not None else str(value)
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 3]}..."


def _allowed(field: FieldInfo) -> str:
    """The field's declared bounds: ``allowed 1..100``, ``allowed > 0``, ``allowed <= 63
    characters``; empty when it declares none."""
    bounds: dict[str, Any] = {}
    for constraint in field.metadata:
        for attr in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            if getattr(constraint, attr, None) is not None:
                bounds[attr] = _number(getattr(constraint, attr))
    if "ge" in bounds and "le" in bounds:
        terms = [f"{bounds['ge']}..{bounds['le']}"]
    else:
        symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
        terms = [f"{symbols[key]} {bounds[key]}" for key in symbols if key in bounds]
    if "min_length" in bounds or "max_length" in bounds:
        low, high = bounds.get("min_length", 0), bounds.get("max_length", "")
        terms.append(f"{low}..{high} characters")
    return f"allowed {' and '.join(terms)}" if terms else ""


def _number(value: Any) -> Any:
    """100.0 as 100: bounds are declared as floats for float fields."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
