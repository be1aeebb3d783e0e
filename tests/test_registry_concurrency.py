"""ActionRegistry under concurrency and re-entrancy (threads registering, actions
modifying the registry while they run) and a model-based ordering check."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _ok(ctx):
    return "ok"


# ---------------------------------------------------------------------------
# concurrency and re-entrancy
# ---------------------------------------------------------------------------


def test_threads_registering_distinct_names(impl):
    reg = impl.ActionRegistry()
    n_threads, per_thread = 8, 100
    barrier = threading.Barrier(n_threads)
    errors = []

    def worker(t):
        try:
            barrier.wait()
            for i in range(per_thread):
                reg.register(f"t{t}_{i}", _ok, {"t": t})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(reg) == n_threads * per_thread
    names = reg.list_actions()
    assert len(set(names)) == len(names) == n_threads * per_thread
    for t in range(n_threads):
        assert all(f"t{t}_{i}" in reg for i in range(per_thread))
        # each thread's names keep their relative registration order
        own = [n for n in names if n.startswith(f"t{t}_")]
        assert own == [f"t{t}_{i}" for i in range(per_thread)]
        assert reg.get_metadata(f"t{t}_0") == {"t": t}


def test_threads_registering_the_same_name_one_wins(impl):
    reg = impl.ActionRegistry()
    n_threads = 16
    barrier = threading.Barrier(n_threads)
    outcomes = []
    lock = threading.Lock()

    def worker(t):
        barrier.wait()
        try:
            reg.register("shared", lambda ctx, t=t: t)
            outcome = "ok"
        except ValueError:
            outcome = "dup"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["dup"] * (n_threads - 1) + ["ok"]
    assert len(reg) == 1


def test_action_can_modify_the_registry_while_running(impl):
    reg = impl.ActionRegistry()

    def late(ctx):
        return "late"

    def installer(ctx):
        reg.register("late", late)
        reg.unregister("victim")
        ctx["count"] = len(reg)
        return reg.list_actions()

    reg.register("victim", _ok)
    reg.register("installer", installer)
    ctx = {}
    r = reg.execute("installer", ctx)
    assert r.success is True
    assert r.result == ["installer", "late"]
    assert ctx["count"] == 2
    assert reg.execute("late", {}).result == "late"


def test_action_can_unregister_itself(impl):
    reg = impl.ActionRegistry()

    def once(ctx):
        reg.unregister("once")
        return "done"

    reg.register("once", once)
    assert reg.execute("once", {}).result == "done"
    assert "once" not in reg


def test_execute_all_looks_actions_up_when_reached(impl):
    reg = impl.ActionRegistry()

    def first(ctx):
        reg.register("second", lambda c: "second-ran")
        reg.unregister("third")

    reg.register("first", first)
    reg.register("third", _ok)
    results = reg.execute_all(["first", "second", "third"], {})
    assert [r.success for r in results] == [True, True, False]
    assert results[1].result == "second-ran"
    assert isinstance(results[2].error, impl.ActionNotFoundError)


def test_threads_executing_concurrently(impl):
    reg = impl.ActionRegistry()
    counter = {"n": 0}
    lock = threading.Lock()

    def inc(ctx):
        with lock:
            counter["n"] += 1
        return ctx["t"]

    reg.register("inc", inc)
    results = {}

    def worker(t):
        results[t] = [reg.execute("inc", {"t": t}).result for _ in range(200)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert counter["n"] == 1200
    assert all(results[t] == [t] * 200 for t in range(6))


# ---------------------------------------------------------------------------
# model-based: random register/unregister sequences
# ---------------------------------------------------------------------------
_OPS = st.lists(
    st.tuples(st.sampled_from(["register", "unregister", "clear"]), st.sampled_from("abcdef")),
    max_size=40,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_registry_matches_an_ordered_dict_model(impl, ops):
    reg = impl.ActionRegistry()
    model: dict[str, object] = {}
    for op, name in ops:
        if op == "clear":
            reg.clear()
            model.clear()
        elif op == "register":
            func = lambda ctx, name=name: name  # noqa: E731
            if name in model:
                try:
                    reg.register(name, func)
                except ValueError:
                    pass
                else:
                    raise AssertionError(f"duplicate {name!r} accepted")
            else:
                reg.register(name, func)
                model[name] = func
        else:
            if name in model:
                reg.unregister(name)
                del model[name]
            else:
                try:
                    reg.unregister(name)
                except impl.ActionNotFoundError as e:
                    assert e.action_name == name
                else:
                    raise AssertionError(f"unregister of missing {name!r} succeeded")
        assert reg.list_actions() == list(model)
        assert len(reg) == len(model)
    for name in "abcdef":
        assert (name in reg) is (name in model)
        if name in model:
            assert reg.get(name) is model[name]
