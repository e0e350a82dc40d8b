"""The per-container FastAPI service that embeds one KATO processor.

Entry points: ``kato.services.kato_fastapi:app`` (uvicorn, configured from the environment),
``python -m kato.services``, and :func:`kato.services.app.create_app` for tests. The package
imports nothing on purpose, so ``kato.services.models`` stays cheap for other services to import.
See README.md next to this file for configuration, API additions and error codes.
"""
