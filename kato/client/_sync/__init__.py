# GENERATED from _async/__init__.py by scripts/unasync.py: edit that file, then run
# `python scripts/unasync.py` (make lint checks that this file is current).
"""The part of the client that waits, written once: the `_sync` package beside this one is
generated from it by scripts/unasync.py (`make lint` fails when it is not current)."""
