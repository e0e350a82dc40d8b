# GENERATED from _async/__init__.py by scripts/unasync.py: edit that file, then run
# `python scripts/unasync.py` (make lint checks that this file is current).
"""The part of the client that waits. `_async/` is written by hand; `_sync/` is generated from
it by scripts/unasync.py, and `make lint` fails when that is not current."""
