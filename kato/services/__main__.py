"""``python -m kato.services``: serve on ``KATO_HOST`` (127.0.0.1) : ``PORT`` (8000)."""

from __future__ import annotations

import uvicorn

from kato.services.settings import load_settings


def main() -> None:
    settings = load_settings()
    uvicorn.run(
        "kato.services.kato_fastapi:app",
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
