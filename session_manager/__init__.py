"""The session manager: one KATO processor container per session, routed, reaped, durable.

    from session_manager.app import create_app
    from session_manager.settings import ManagerSettings
    app = create_app(ManagerSettings(state_dir=Path("state")))      # FastAPI app
    session_manager.server.run("127.0.0.1", 8080)                   # or python -m session_manager

The package imports nothing on purpose: `session_manager.settings` (what `katoctl` reads its
defaults from) and `session_manager.registry` stay cheap to import without the web stack.
"""
