"""The part of the client that waits. `_async/` is written by hand; `_sync/` is generated from
it by scripts/unasync.py, and `make lint` fails when that is not current."""
