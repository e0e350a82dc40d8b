"""The part of the client that waits, written once: the `_sync` package beside this one is
generated from it by scripts/unasync.py (`make lint` fails when it is not current)."""
