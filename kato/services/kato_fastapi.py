"""``uvicorn kato.services.kato_fastapi:app`` — the service configured from the environment.

Importing this module reads the settings once; a missing ``PROCESSOR_ID`` stops start-up with a
message naming the variable. Tests build apps with :func:`kato.services.app.create_app` instead.

The cyclic GC is paused while the app's dependencies are imported: they allocate ~200k
long-lived objects, and the collections that triggers cost ~35 ms of a ~450 ms start-up for
nothing (the lifespan collects once and freezes everything before serving).
"""

import gc

_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    from kato.services.app import create_app
    from kato.services.hardening import forbid_new_privileges
    from kato.services.settings import load_settings

    forbid_new_privileges()
    app = create_app(load_settings())
finally:
    if _gc_was_enabled:
        gc.enable()
