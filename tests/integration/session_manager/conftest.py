"""Session manager suites: `start_manager` (tests/integration/conftest.py) and the replay helper."""

from __future__ import annotations

import sys
from pathlib import Path

# The reference-case replay helper of the processor service tests is reused as is.
sys.path.insert(0, str(Path(__file__).parents[1] / "kato" / "services"))
