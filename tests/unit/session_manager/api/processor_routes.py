"""The processor's route table as test cases: every (path template, method), and a concrete
path for each template."""

from __future__ import annotations

import re

from session_manager.api.root import processor_paths

#: (path template, method) of every HTTP route of a processor.
ROUTES = sorted((path, method) for path, methods in processor_paths() for method in methods)


def concrete(template: str) -> str:
    """A processor path template with each `{parameter}` filled in (percent-encoded)."""
    return re.sub(r"\{[^}]+\}", "PTRN%7Cabc", template)
