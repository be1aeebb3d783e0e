"""Helpers shared by the executor tests (test_executor_*.py); each works with either
implementation (``impl``: pystator 0.0.25 or ferrostator, see conftest). Transitions
come from ``_reliability.tr_of``."""

from __future__ import annotations

import asyncio
import contextvars

from conftest import caplog_records

#: A context variable the async tests set, to check which context each action runs in.
VAR: contextvars.ContextVar[str] = contextvars.ContextVar("ferrostator_test_var", default="unset")


def executor_records(caplog, impl):
    """The log records of the implementation's actions logger (this thread's only)."""
    return [r for r in caplog_records(caplog) if r.name == impl.LOGGER]


class Gate:
    """Async actions that only succeed if ``n`` of them are running at once."""

    def __init__(self, n):
        self.n = n
        self.started = 0
        self.event = asyncio.Event()

    def action(self, label, log=None):
        async def act(ctx):
            if log is not None:
                log.append(f"start {label}")
            self.started += 1
            if self.started == self.n:
                self.event.set()
            await asyncio.wait_for(self.event.wait(), 2.0)
            if log is not None:
                log.append(f"end {label}")
            return label

        return act


class Flaky:
    """Raises the given exceptions in turn, then returns ``value``."""

    def __init__(self, *errors, value="done"):
        self.errors = list(errors)
        self.value = value
        self.calls = 0

    def __call__(self, ctx):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.value
