"""promtool on deploy/prometheus: the rules and the example config are valid, and each alert
fires (and stays quiet) as rules_test.yml says."""

from __future__ import annotations

import subprocess

from tests.integration.monitoring.prometheus import EXAMPLE_CONFIG, RULES, RULES_TEST, require


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_rules_are_valid() -> None:
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    done = _promtool("test", "rules", str(RULES_TEST))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_example_config_is_valid() -> None:
    done = _promtool("check", "config", str(EXAMPLE_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
