"""HAProxy's runtime API (its admin socket, `stats socket … level admin`): one command per
connection, answers parsed here and nowhere else.

Routes are entries of a map file changed at run time (`set map` / `add map` / `del map`, no
reload); activity is the `kato_activity` stick table (`show table`). Every key and value sent
is checked first: a session id is `[0-9a-f]{32}` and a value has no space, newline or `;`, so
nothing can add a second command to a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from ..models import is_session_id

__all__ = ["RuntimeApi", "RuntimeApiError", "parse_map", "parse_table"]

_VALUE = re.compile(r"[A-Za-z0-9_.:|\-]{1,512}")
_TIMEOUT = 5.0
_ERROR_PREFIXES = ("Unknown command", "Missing", "Unknown map", "Unknown table", "Permission")


class RuntimeApiError(RuntimeError):
    """HAProxy refused a command, or its socket did not answer."""


def parse_map(text: str) -> dict[str, str]:
    """`show map` lines (`<ref> <key> <value>`) as {key: value}."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].startswith("0x"):
            entries[parts[1]] = parts[2]
    return entries


def parse_table(text: str) -> dict[str, dict[str, str]]:
    """`show table <name>` lines (`0x…: key=<k> use=0 exp=… gpt0=… conn_cur=…`) as
    {key: {field: value}}."""
    rows: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        if not line.startswith("0x"):
            continue
        fields = dict(
            part.split("=", 1) for part in line.split(": ", 1)[-1].split() if "=" in part
        )
        key = fields.pop("key", None)
        if key is not None:
            rows[key] = fields
    return rows


class RuntimeApi:
    """The admin socket of one HAProxy."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    async def command(self, line: str) -> str:
        """Send one command line, return HAProxy's whole answer."""
        if "\n" in line or ";" in line:
            raise ValueError("one runtime API command at a time")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket)), _TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise RuntimeApiError(f"HAProxy's admin socket {self.socket}: {exc!r}") from exc
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), _TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise RuntimeApiError(f"HAProxy did not answer {line.split()[0]!r}: {exc!r}") from exc
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        text = answer.decode("utf-8", "replace")
        if text.startswith(_ERROR_PREFIXES):
            raise RuntimeApiError(f"HAProxy refused {line.split()[0]!r}: {text.strip()}")
        return text

    async def alive(self) -> bool:
        try:
            return "Pid:" in await self.command("show info")
        except RuntimeApiError:
            return False

    async def set_entry(self, map_file: Path, key: str, value: str) -> None:
        """Make `key` map to `value` (replace, or add when absent)."""
        _check_key(key)
        if not _VALUE.fullmatch(value):
            raise ValueError("a map value of letters, digits and `_.:|-` only")
        answer = await self.command(f"set map {map_file} {key} {value}")
        if "not found" in answer.lower():
            await self.command(f"add map {map_file} {key} {value}")

    async def del_entry(self, map_file: Path, key: str) -> None:
        _check_key(key)
        await self.command(f"del map {map_file} {key}")  # "Key not found." is fine: gone

    async def entries(self, map_file: Path) -> dict[str, str]:
        return parse_map(await self.command(f"show map {map_file}"))

    async def table(self, name: str, *, key: str | None = None) -> dict[str, dict[str, str]]:
        """The stick table's entries, or only `key`'s (a session id)."""
        if key is None:
            return parse_table(await self.command(f"show table {name}"))
        _check_key(key)
        return parse_table(await self.command(f"show table {name} key {key}"))


def _check_key(key: str) -> None:
    if not is_session_id(key):
        raise ValueError("a map key is a session id")
