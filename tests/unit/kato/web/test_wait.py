"""`kato.web.wait`: the poll loop returns the condition's value, names what timed out, and
never hides the condition's own failure."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from kato.web.wait import WaitTimeout, until, wait_until


def test_returns_the_first_truthy_value() -> None:
    tries = itertools.count()
    assert wait_until("the third try", lambda: next(tries) >= 2 and "done", interval=0) == "done"
    assert next(tries) == 3


def test_a_timeout_names_what_it_waited_for() -> None:
    with pytest.raises(WaitTimeout, match=r"^the sky falls: not within 0\.05 s$") as raised:
        wait_until("the sky falls", lambda: False, timeout=0.05, interval=0.01)
    assert isinstance(raised.value, AssertionError) and isinstance(raised.value, TimeoutError)


def test_the_conditions_own_error_is_raised() -> None:
    def broken() -> bool:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        wait_until("never", broken, timeout=5)


async def test_until_lets_other_tasks_make_it_true() -> None:


    flag: list[int] = []

    async def later() -> None:
        await asyncio.sleep(0.02)
        flag.append(1)

    task = asyncio.ensure_future(later())
    assert await until("the other task ran", lambda: flag) == [1]
    await task
    with pytest.raises(WaitTimeout):
        await until("nothing", lambda: None, timeout=0.02)
