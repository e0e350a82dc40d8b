"""What the schema fuzzer (schemathesis) needs to know about our media types, for every suite
that fuzzes an API of ours: import it before building a schema."""

from __future__ import annotations

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def _export_document(ctx: object, value: object) -> bytes:
    """Import bodies as the fuzzer makes them (text, or bytes for `format: binary`): never a
    valid export, so the service must answer them with a documented 4xx."""
    return value if isinstance(value, bytes) else str(value).encode()
