"""ferrostator.v47's executor on pystator 0.0.47's own ``ActionSpec``/``TransitionResult``
objects: once ``install()`` has trusted those classes it reads their fields from their
slots (``when`` included) — and must see exactly what reading their attributes sees,
however the objects or the class are changed afterwards.

Runs in .venvs/v47 (``make test-v47``). In subprocesses: trusting a class lasts for
the process, and one script modifies pystator's class.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pystator")

_SCRIPT = textwrap.dedent(
    """
    import sys
    import ferrostator
    from pystator._types import ActionSpec, TransitionResult

    if sys.argv[1] == "trusted":
        ferrostator.install()  # trusts pystator's classes for the rest of the process
        ferrostator.uninstall()
    from ferrostator.v47 import ActionExecutor, ActionRegistry

    registry = ActionRegistry()
    registry.register("a", lambda ctx, **params: ("a", params))
    registry.register("b", lambda ctx, **params: ("b", params))
    executor = ActionExecutor(registry, log_execution=False)
    specs = [
        ActionSpec("a"),
        ActionSpec("b", params={"x": 1}),
        ActionSpec("a", when="n > 1"),
        ActionSpec("b", when="n > 5", params={"y": 2}),
        ActionSpec("a", retry=1, retry_backoff=0.0),
        ActionSpec("_effect.set", effect="set", params={"k": 3}),
        ActionSpec("missing"),
    ]
    transition = TransitionResult(
        success=True, source_state="s", target_state="t", trigger="go",
        on_exit_actions=(specs[0],), actions_to_execute=tuple(specs[1:4]),
        on_enter_actions=tuple(specs[4:]),
    )

    def show(label):
        ctx = {"n": 3}
        execution = executor.execute(transition, ctx)
        print(label, [(r.action_name, r.status.value, r.result) for r in execution.action_results],
              sorted(ctx))

    show("as made")
    object.__setattr__(specs[2], "when", "n > 7")
    object.__setattr__(specs[3], "when", None)
    object.__setattr__(specs[1], "params", {"z": 9})
    show("fields set")
    object.__delattr__(specs[2], "when")
    show("when emptied")
    object.__setattr__(transition, "success", False)
    show("failed")
    object.__setattr__(transition, "success", True)
    ActionSpec.when = property(lambda self: "n < 0")
    show("class changed")
    """
)


def _run(mode: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_slot_reads_see_what_attribute_reads_see() -> None:
    trusted = _run("trusted")
    assert trusted == _run("attributes")
    skipped = "'skipped', 'when_condition_false'"
    missing = "('missing', 'skipped', 'not_registered')"
    assert trusted == [
        "as made [('a', 'ok', ('a', {})), ('b', 'ok', ('b', {'x': 1})), ('a', 'ok', ('a', {})), "
        f"('b', {skipped}), ('a', 'ok', ('a', {{}})), ('_effect.set', 'ok', None), {missing}] "
        "['k', 'n']",
        "fields set [('a', 'ok', ('a', {})), ('b', 'ok', ('b', {'z': 9})), "
        f"('a', {skipped}), ('b', 'ok', ('b', {{'y': 2}})), ('a', 'ok', ('a', {{}})), "
        f"('_effect.set', 'ok', None), {missing}] ['k', 'n']",
        "when emptied [('a', 'ok', ('a', {})), ('b', 'ok', ('b', {'z': 9})), "
        "('a', 'ok', ('a', {})), ('b', 'ok', ('b', {'y': 2})), ('a', 'ok', ('a', {})), "
        "('_effect.set', 'ok', None), "
        f"{missing}] ['k', 'n']",
        "failed [] ['n']",
        "class changed ["
        + ", ".join(
            f"('{name}', {skipped})" for name in ("a", "b", "a", "b", "a", "_effect.set", "missing")
        )
        + "] ['n']",
    ]
