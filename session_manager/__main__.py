"""`python -m session_manager`: serve on KATO_HOST:KATO_PORT."""

from .server import run

run()
