"""Plumbing both HTTP services share: the processor (``kato.services``) and the session manager.

One definition each of the JSON log line (``logs``), the request ids taken from clients
(``request_id``), the size-bounded request body (``body``), the ``/health`` readiness wait
(``readiness``), the loopback server launchers of tests and benchmarks (``launcher``) and
the one-line start-up error of a bad setting (``settings_errors``, katoctl's too).
It lives under ``kato`` because the processor image holds only that package; the manager may
import ``kato.*``, never the reverse. Nothing is imported here, so importing one module costs
only that module.
"""
