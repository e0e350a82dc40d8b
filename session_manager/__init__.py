"""The session manager: one KATO processor container per session, routed, reaped, durable.

from session_manager import create_app, ManagerSettings
app = create_app(ManagerSettings(state_dir=Path("state")))      # FastAPI app
session_manager.server.run("127.0.0.1", 8080)                   # or python -m session_manager
"""

from .app import create_app
from .settings import ManagerSettings

__all__ = ["ManagerSettings", "create_app"]
