"""Results holding only atomic values stay out of the cyclic GC (like CPython's
tuples), and are put back under its watch when a field gets a container."""

import gc
import weakref

import pytest
from conftest import COLLECTS_GARBAGE, collect_until


def _run(fs, func):
    reg = fs.ActionRegistry()
    reg.register("a", func)
    return reg.execute("a", {})


@pytest.mark.parametrize("value", [None, 1, 2.5, "x", True])
def test_atomic_results_are_untracked(fs, value):
    result = _run(fs, lambda ctx: value)
    assert result.success and result.result == value
    assert not gc.is_tracked(result)


def test_container_results_and_failures_are_tracked(fs):
    assert gc.is_tracked(_run(fs, lambda ctx: {"k": []}))

    def boom(ctx):
        raise ValueError("no")

    assert gc.is_tracked(_run(fs, boom))


@COLLECTS_GARBAGE
def test_assigning_a_container_tracks_again_and_cycles_are_collected(fs):
    result = _run(fs, lambda ctx: None)
    assert not gc.is_tracked(result)
    holder = [result]
    result.result = holder  # a cycle: result -> holder -> result
    assert gc.is_tracked(result)
    probe = weakref.ref(result)
    del result, holder
    assert collect_until(lambda: probe() is None)


def test_executor_results_follow_the_same_rule(fs):
    reg = fs.ActionRegistry()
    reg.register("a", lambda ctx: None)
    tr = fs.TransitionResult.success_result("s", "t", "go", actions=(fs.ActionSpec("a"),))
    er = fs.ActionExecutor(reg).execute(tr, {})
    assert [gc.is_tracked(r) for r in er.action_results] == [False]
    assert gc.is_tracked(er)
