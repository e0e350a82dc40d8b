"""Real services for tests and benchmarks that the project does not ship (a PostgreSQL cluster,
``postgres``). Nothing is imported here: importing one module costs only that module."""
