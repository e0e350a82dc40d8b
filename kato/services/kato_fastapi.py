"""``uvicorn kato.services.kato_fastapi:app`` — the service configured from the environment.

Importing this module reads the settings once; a missing ``PROCESSOR_ID`` stops start-up with a
message naming the variable. Tests build apps with :func:`kato.services.app.create_app` instead.
"""

from kato.services.app import create_app
from kato.services.settings import load_settings

app = create_app(load_settings())
