"""ferrostator.install() / uninstall() on pystator 0.0.25, ferrostator's executor over
pystator's registries, and ferrostator's errors caught as pystator's.

Engine-level behaviour (Orchestrator, orchestrate(), the Worker, with and without
install()) is compared in tests/test_engine_differential.py; pystator's own suite runs
with install() active in tests/pystator_suite/run_suite.py.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
import pickle
import subprocess
import sys
import textwrap
import threading
from importlib import metadata
from types import ModuleType
from typing import Any

import pytest
from conftest import collect_until

import ferrostator
import ferrostator.actions
from ferrostator import _contracts, _install

pystator = pytest.importorskip("pystator")
import pystator.actions as pystator_actions  # noqa: E402
import pystator.errors as pystator_errors  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(reason="install() changes process-wide module state")

PYSTATOR_CLASSES = (
    "ActionRegistry",
    "ActionExecutor",
    "ActionResult",
    "ExecutionResult",
    "ActionStatus",
    "ExecutionMode",
)


def _pystator_namespaces() -> dict[str, dict[str, Any]]:
    return {
        name: dict(vars(module))
        for name, module in list(sys.modules.items())
        if isinstance(module, ModuleType) and (name == "pystator" or name.startswith("pystator."))
    }


@pytest.fixture
def installed():
    ferrostator.install()
    try:
        yield
    finally:
        ferrostator.uninstall()


def _run_python(code: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


# ---------------------------------------------------------------------------
# install() / uninstall()
# ---------------------------------------------------------------------------


def test_install_replaces_pystator_actions_names_everywhere_they_are_bound(installed):
    current = _install._current
    assert current is not None
    assert sorted(current.originals) == sorted(PYSTATOR_CLASSES + ("ActionFunc", "AsyncActionFunc"))
    for name in PYSTATOR_CLASSES:
        assert getattr(pystator_actions, name) is getattr(ferrostator.actions, name)
    replaced = {id(value) for value in current.originals.values()}
    for module_name, namespace in _pystator_namespaces().items():
        for attr, value in namespace.items():
            assert id(value) not in replaced, (module_name, attr)
    assert pystator.ActionRegistry is ferrostator.ActionRegistry
    assert pystator.ActionExecutor is ferrostator.ActionExecutor
    behavior = importlib.import_module("pystator.behavior")
    assert behavior.ExecutionResult is ferrostator.ExecutionResult
    assert ferrostator.installed() == metadata.version("pystator")


def test_install_reaches_machines_orchestrate_and_the_worker(installed):
    machine = pystator.StateMachine.from_dict(
        {
            "meta": {"machine_name": "m", "version": "1"},
            "states": [{"name": "a", "type": "initial"}, {"name": "b", "type": "terminal"}],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b", "actions": ["hello"]}],
        }
    )
    assert type(machine.action_registry) is ferrostator.ActionRegistry
    calls = []
    machine.action("hello")(lambda ctx: calls.append(ctx["_entity_id"]))
    orchestrator = machine.orchestrate(pystator.InMemoryStateStore())
    assert type(orchestrator._executor) is ferrostator.ActionExecutor
    result = orchestrator.process_event("e1", "go")
    assert result.success and calls == ["e1"]

    from pystator.worker.registry import MachineRegistry

    registry = MachineRegistry(pystator.InMemoryStateStore(), machine_source="yaml")
    assert type(registry._actions) is ferrostator.ActionRegistry


def test_uninstall_restores_every_pystator_module_exactly():
    before = _pystator_namespaces()
    ferrostator.install()
    ferrostator.install()  # idempotent
    import pystator.worker.registry  # noqa: F401  (imported while installed, too)

    ferrostator.uninstall()
    ferrostator.uninstall()  # idempotent
    after = _pystator_namespaces()
    for name, namespace in before.items():
        for attr, value in namespace.items():
            assert after[name].get(attr) is value, (name, attr)
    for name, namespace in after.items():
        for attr, value in namespace.items():
            assert not (getattr(value, "__module__", "") or "").startswith("ferrostator"), (
                name,
                attr,
            )
    assert ferrostator.installed() is None


def test_install_before_pystator_is_imported():
    out = _run_python(
        """
        import sys
        import ferrostator
        assert "pystator" not in sys.modules
        ferrostator.install()
        import pystator
        from pystator import ActionRegistry, ActionExecutor, StateMachine
        from pystator.worker.registry import MachineRegistry
        import pystator.worker.registry as worker_registry
        assert ActionRegistry is ferrostator.ActionRegistry
        assert worker_registry.ActionExecutor is ferrostator.ActionExecutor
        ferrostator.uninstall()
        assert worker_registry.ActionExecutor.__module__ == "pystator.actions"
        assert pystator.ActionRegistry.__module__ == "pystator.actions"
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_install_is_thread_safe():
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def churn(n: int) -> None:
        try:
            barrier.wait()
            for i in range(50):
                if (i + n) % 2:
                    ferrostator.install()
                else:
                    ferrostator.uninstall()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ferrostator.install()
    assert pystator_actions.ActionExecutor is ferrostator.ActionExecutor
    ferrostator.uninstall()
    assert not errors
    assert pystator_actions.ActionExecutor.__module__ == "pystator.actions"
    assert pystator.ActionRegistry.__module__ == "pystator.actions"


def test_install_without_pystator_says_so(monkeypatch):
    def not_found(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_found)
    monkeypatch.setitem(sys.modules, "pystator", None)
    with pytest.raises(ImportError, match="needs pystator, which is not installed"):
        ferrostator.install()
    assert ferrostator.installed() is None


def test_install_refuses_an_unsupported_pystator_version(monkeypatch):
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.46")
    with pytest.raises(
        RuntimeError, match=r"pystator 0\.0\.46 is installed.*supports pystator 0\.0\.25, 0\.0\.47"
    ):
        ferrostator.install()
    assert ferrostator.installed() is None
    assert pystator_actions.ActionExecutor.__module__ == "pystator.actions"


def test_the_contract_follows_the_pystator_version():
    assert _contracts.contract_for("0.0.25").module == "ferrostator.actions"
    assert _contracts.contract_for("0.0.47").module == "ferrostator.v47.actions"
    assert _install.contract_for is _contracts.contract_for
    with pytest.raises(RuntimeError, match="supports pystator 0.0.25, 0.0.47 only"):
        _contracts.contract_for("9.9.9")


# ---------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------


def _missing_action_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    registry = ferrostator.ActionRegistry()
    executor = ferrostator.ActionExecutor(registry)
    transition = ferrostator.TransitionResult.success_result(
        "a", "b", "go", actions=(ferrostator.ActionSpec("missing"),)
    )
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        executor.execute(transition, {})
    return [r for r in caplog.records if "not registered" in r.getMessage()]


def test_log_records_go_to_pystators_logger_while_installed(caplog):
    assert [r.name for r in _missing_action_records(caplog)] == ["ferrostator.actions"]
    ferrostator.install()
    try:
        records = _missing_action_records(caplog)
        assert [(r.name, r.levelno) for r in records] == [("pystator.actions", logging.WARNING)]
    finally:
        ferrostator.uninstall()
    assert [r.name for r in _missing_action_records(caplog)] == ["ferrostator.actions"]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_our_errors_are_pystators_errors():
    assert issubclass(ferrostator.FSMError, pystator_errors.FSMError)
    assert issubclass(ferrostator.ActionNotFoundError, pystator_errors.ActionNotFoundError)
    assert issubclass(ferrostator.ActionNotFoundError, ferrostator.FSMError)
    registry = ferrostator.ActionRegistry()
    with pytest.raises(pystator_errors.ActionNotFoundError) as info:
        registry.get("missing")
    assert isinstance(info.value, ferrostator.ActionNotFoundError)
    error = info.value
    assert (error.message, error.action_name, error.context) == (
        "Action 'missing' not found",
        "missing",
        {"action_name": "missing"},
    )
    assert error.code == pystator_errors.ErrorCode.ACTION_NOT_FOUND
    try:
        ferrostator.ActionExecutor(registry, strict=True).execute(
            ferrostator.TransitionResult.success_result(
                "a", "b", "go", actions=(ferrostator.ActionSpec("missing"),)
            ),
            {},
        )
    except pystator_errors.FSMError as caught:
        assert "strict mode" in str(caught)
    else:  # pragma: no cover
        pytest.fail("strict mode did not raise")
    copy_ = pickle.loads(pickle.dumps(error))
    assert type(copy_) is ferrostator.ActionNotFoundError
    assert (copy_.message, copy_.action_name, copy_.context, copy_.code, str(copy_)) == (
        error.message,
        error.action_name,
        error.context,
        error.code,
        str(error),
    )
    plain = ferrostator.FSMError("boom", {"k": 1}, code=ferrostator.ErrorCode.CONFIG)
    assert (plain.context, plain.code, str(plain)) == ({"k": 1}, "config", "boom (k=1)")
    assert isinstance(pickle.loads(pickle.dumps(plain)), pystator_errors.FSMError)


def test_errors_become_pystators_when_pystator_is_imported_later():
    out = _run_python(
        """
        import ferrostator
        registry = ferrostator.ActionRegistry()
        import pystator.errors
        try:
            registry.get("x")
        except pystator.errors.ActionNotFoundError as error:
            assert isinstance(error, ferrostator.ActionNotFoundError)
            print("caught", error.action_name)
        """
    )
    assert out.strip() == "caught x"


def test_errors_without_pystator_are_plain_exceptions():
    out = _run_python(
        """
        import sys
        sys.modules["pystator"] = None
        import ferrostator
        assert ferrostator.FSMError.__mro__[-3:] == (Exception, BaseException, object)
        try:
            ferrostator.ActionRegistry().get("x")
        except ferrostator.FSMError as error:
            print(type(error).__mro__[1].__name__, error.action_name)
        """
    )
    assert out.strip() == "FSMError x"


# ---------------------------------------------------------------------------
# The executor over pystator's registry (and any registry-like object)
# ---------------------------------------------------------------------------


@pytest.fixture
def pystator_registry():
    registry = pystator_actions.ActionRegistry()
    registry.register(
        "double", lambda ctx: ctx.setdefault("out", []).append(2 * ctx["n"]) or "doubled"
    )
    registry.register("params", lambda ctx: ctx["_action_params"]["p"])

    async def later(ctx):
        await asyncio.sleep(0)
        return "later"

    registry.register("later", later)
    return registry


def _transition(*specs: Any) -> ferrostator.TransitionResult:
    return ferrostator.TransitionResult.success_result("a", "b", "go", actions=specs)


def test_executor_runs_a_pystator_registry_with_our_semantics(pystator_registry):
    executor = ferrostator.ActionExecutor(pystator_registry)
    assert executor.registry is pystator_registry
    context = {"n": 21}
    result = executor.execute(
        _transition(
            ferrostator.ActionSpec("double"),
            ferrostator.ActionSpec("params", params={"p": 7}),
            ferrostator.ActionSpec("missing"),
            ferrostator.ActionSpec.from_config({"increment": "count"}),
            ferrostator.ActionSpec("later"),
        ),
        context,
    )
    assert [(r.action_name, r.success, r.status, r.result) for r in result.action_results[:4]] == [
        ("double", True, "ok", "doubled"),
        ("params", True, "ok", 7),
        ("missing", True, "skipped", "not_registered"),
        ("_effect.increment", True, "ok", None),
    ]
    # ferrostator's semantics, not pystator's: an async action fails on a sync path.
    later = result.action_results[4]
    assert not later.success and "is async and cannot be executed synchronously" in str(later.error)
    assert context == {"n": 21, "out": [42], "count": 1}
    assert executor.validate_actions_exist(_transition(ferrostator.ActionSpec("missing"))) == [
        "missing"
    ]

    async def run() -> ferrostator.ExecutionResult:
        return await executor.async_execute_parallel(
            _transition(
                ferrostator.ActionSpec("later", timeout=5.0),
                ferrostator.ActionSpec("params", params={"p": 1}, retry=1, retry_backoff=0.0),
            ),
            {"n": 0},
        )

    parallel = asyncio.run(run())
    assert [(r.action_name, r.result) for r in parallel.action_results] == [
        ("later", "later"),
        ("params", 1),
    ]
    with pytest.raises(pystator_errors.ActionNotFoundError):
        ferrostator.ActionExecutor(pystator_registry, strict=True).execute(
            _transition(ferrostator.ActionSpec("missing")), {}
        )


def test_executor_sees_changes_to_a_pystator_registry(pystator_registry):
    executor = ferrostator.ActionExecutor(pystator_registry)
    spec = ferrostator.ActionSpec("late")
    assert executor.execute(_transition(spec), {}).action_results[0].is_skipped
    pystator_registry.register("late", lambda ctx: "here")
    assert executor.execute(_transition(spec), {}).action_results[0].result == "here"
    executor.registry = ferrostator.ActionRegistry()
    assert executor.execute(_transition(spec), {}).action_results[0].is_skipped


def test_executor_accepts_any_object_with_the_registry_methods():
    class Table:
        def __init__(self) -> None:
            self.asked: list[str] = []
            self.funcs = {"hi": lambda ctx: "hello"}

        def has(self, name: str) -> bool:
            self.asked.append(f"has {name}")
            return name in self.funcs

        def get(self, name: str) -> Any:
            self.asked.append(f"get {name}")
            return self.funcs[name]

        def is_async(self, name: str) -> bool:
            return False

    table = Table()
    result = ferrostator.ActionExecutor(table).execute(
        _transition(ferrostator.ActionSpec("hi"), ferrostator.ActionSpec("nope")), {}
    )
    assert [r.result for r in result.action_results] == ["hello", "not_registered"]
    assert table.asked == ["has hi", "get hi", "has nope"]


@pytest.mark.parametrize(
    ("registry", "got"),
    [
        (None, "NoneType"),
        ({}, "dict"),
        (object(), "object"),
        (ferrostator.ActionExecutor, "type"),
    ],
)
def test_registry_type_errors_name_module_qualified_types(registry, got):
    with pytest.raises(
        TypeError,
        match=rf"registry must be a ferrostator\.actions\.ActionRegistry or an object with "
        r"has\(\), get\(\) and is_async\(\) methods "
        rf"\(such as pystator\.actions\.ActionRegistry\), got {got}$",
    ):
        ferrostator.ActionExecutor(registry)


def test_type_errors_name_module_qualified_types():
    class ActionSpec:  # the name of ours and pystator's, and no attributes
        pass

    executor = ferrostator.ActionExecutor(ferrostator.ActionRegistry())
    with pytest.raises(
        TypeError,
        match=r"action spec must have a 'name' attribute, "
        r"got test_install\.test_type_errors_name_module_qualified_types\.<locals>\.ActionSpec$",
    ):
        executor.execute_action_spec(ActionSpec(), {})
    with pytest.raises(TypeError, match=r"name must be a str, got int$"):
        ferrostator.ActionExecutor(ferrostator.ActionRegistry()).execute_action_spec(
            pystator.ActionSpec(name=5),
            {},  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------------
# copy / deepcopy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ferrostator.ActionRegistry, pystator_actions.ActionRegistry])
def test_a_shallow_copy_shares_the_registry_contents(cls):
    registry = cls()
    registry.register("a", print, {"m": [1]})
    copied = copy.copy(registry)
    assert type(copied) is cls and copied is not registry
    copied.register("b", repr)
    registry.unregister("a")
    assert registry.list_actions() == copied.list_actions() == ["b"]


def test_a_deep_copy_is_independent():
    registry = ferrostator.ActionRegistry()
    registry.extra = {"note": [1]}
    registry.register("a", print, {"m": [1]})
    copied = copy.deepcopy(registry)
    assert type(copied) is ferrostator.ActionRegistry
    assert copied.get("a") is print
    assert copied.get_metadata("a") == {"m": [1]}
    copied.register("b", repr)
    assert registry.list_actions() == ["a"] and copied.list_actions() == ["a", "b"]
    assert copied.extra == {"note": [1]} and copied.extra is not registry.extra
    shallow = copy.copy(registry)
    assert shallow.extra is registry.extra


def test_copies_of_a_registry_in_a_cycle_are_collected():
    import gc
    import weakref

    registry = ferrostator.ActionRegistry()
    registry.register("self", lambda ctx, r=registry: r)
    alias = copy.copy(registry)
    ref = weakref.ref(registry)
    del registry
    gc.collect()
    assert ref() is not None  # the alias keeps the contents, and the lambda the registry
    del alias
    # With the alias gone, the lone registry's cycle is reported to the collector again.
    assert collect_until(lambda: ref() is None)


# ---------------------------------------------------------------------------
# pystator's own TransitionResult / ActionSpec, read field by field once installed
# ---------------------------------------------------------------------------


def test_pystators_objects_are_read_as_they_are_now(installed):
    from pystator._types import ActionSpec, TransitionResult

    registry = ferrostator.ActionRegistry()
    registry.register("a", lambda ctx: ("a", ctx.get("_action_params")))
    registry.register("b", lambda ctx: ("b", ctx.get("_action_params")))
    executor = ferrostator.ActionExecutor(registry)
    spec = ActionSpec("a")
    transition = TransitionResult.success_result("x", "y", "go", actions=(spec,))

    def results() -> list[Any]:
        return [r.result for r in executor.execute(transition, {}).action_results]

    assert results() == [("a", None)]
    # A frozen dataclass can still be changed with object.__setattr__: seen at once.
    object.__setattr__(spec, "name", "b")
    object.__setattr__(spec, "params", {"p": 1})
    assert results() == [("b", {"p": 1})]
    spec.params.clear()  # has_params follows the params' contents
    assert results() == [("b", None)]
    object.__setattr__(transition, "on_enter_actions", (ActionSpec("a", params={"q": 2}),))
    assert results() == [("b", None), ("a", {"q": 2})]
    object.__setattr__(transition, "success", False)
    assert results() == []

    class Spec(ActionSpec):  # subclasses keep their own properties
        @property
        def has_params(self) -> bool:
            return False

    odd = TransitionResult.success_result("x", "y", "go", actions=(Spec("a", params={"p": 3}),))
    assert [r.result for r in executor.execute(odd, {}).action_results] == [("a", None)]


def test_pystator_spec_plans_follow_every_change() -> None:
    """What a pystator spec was found to be is remembered per spec (its plan) and
    used only while the spec's slots hold the same objects and the registry table is
    the same: a registry change, a field replaced, a field of the wrong type and more
    specs than the plans table holds are all seen as reading the spec afresh sees them.
    In a subprocess: trusting pystator's classes lasts for the process."""
    out = _run_python(
        """
        import ferrostator
        ferrostator.install()
        import pystator.actions as pa
        reg = pa.ActionRegistry()
        calls = []
        def make(tag):
            def action(ctx):
                calls.append(tag)
                if ctx.get("fail"):
                    raise ConnectionError("transient")
            return action
        reg.register("a", make("a"))
        reg.register("b", make("b"))
        ex = pa.ActionExecutor(reg, log_execution=False)
        spec = pa.ActionSpec("a")
        tr = pa.TransitionResult(success=True, source_state="s", target_state="t",
                                 trigger="go", actions_to_execute=(spec,))
        def run(**ctx):
            return [(r.action_name, r.status.value) for r in ex.execute(tr, ctx).action_results]
        print(run(), run())
        reg.unregister("a")
        print(run())
        reg.register("a", make("a2"))
        run()
        object.__setattr__(spec, "name", "b")
        print(run(), calls)
        object.__setattr__(spec, "retry", 2)
        object.__setattr__(spec, "retry_backoff", 0.0)
        calls.clear()
        print(run(fail=True), calls)
        for retry in ("2", 0):
            object.__setattr__(spec, "retry", retry)
            try:
                print(run())
            except TypeError as exc:
                print(exc)
        specs = tuple(pa.ActionSpec("a" if i % 3 else "b") for i in range(1000))
        many = pa.TransitionResult(success=True, source_state="s", target_state="t",
                                   trigger="go", actions_to_execute=specs)
        calls.clear()
        ex.execute(many, {})
        ex.execute(many, {})
        print(calls == [("a2" if i % 3 else "b") for i in range(1000)] * 2)
        """
    )
    assert out.splitlines() == [
        "[('a', 'ok')] [('a', 'ok')]",
        "[('a', 'skipped')]",
        "[('b', 'ok')] ['a', 'a', 'a2', 'b']",
        "[('b', 'failed')] ['b', 'b', 'b']",
        "ActionSpec.retry must be an int, got str",
        "[('b', 'ok')]",
        "True",
    ]


def test_pystator_objects_read_as_they_are_now() -> None:
    """The executor reads pystator's own specs and transitions from their slots: a
    field changed with object.__setattr__, emptied, or shadowed by a property set on
    the class afterwards is seen exactly as getattr would see it. In a subprocess: the
    class is modified."""
    out = _run_python(
        """
        import ferrostator
        ferrostator.install()
        import pystator.actions as pa
        reg = pa.ActionRegistry()
        seen = []
        reg.register("a", lambda ctx: seen.append(ctx.get("_action_params")))
        ex = pa.ActionExecutor(reg)
        spec = pa.ActionSpec("a", params={"x": 1})
        tr = pa.TransitionResult(success=True, source_state="s", target_state="t",
                                 trigger="go", actions_to_execute=(spec,))
        ex.execute(tr, {})
        object.__setattr__(spec, "params", {"y": 2})
        ex.execute(tr, {})
        object.__setattr__(tr, "success", False)
        print(len(ex.execute(tr, {}).action_results))
        object.__setattr__(tr, "success", True)
        object.__setattr__(tr, "on_enter_actions", [pa.ActionSpec("a")])
        print(len(ex.execute(tr, {}).action_results))
        object.__setattr__(spec, "name", "missing")
        print([r.status.value for r in ex.execute(tr, {}).action_results])
        object.__setattr__(spec, "name", "a")
        object.__delattr__(spec, "params")
        try:
            ex.execute(tr, {})
        except TypeError as exc:
            print(exc)
        object.__setattr__(spec, "params", {})
        pa.ActionSpec.params = property(lambda self: {"prop": 1})
        ex.execute(tr, {})
        print(seen)
        """
    )
    assert out.splitlines() == [
        "0",
        "2",
        "['skipped', 'ok']",
        "action spec must have a 'params' attribute, got pystator._types.ActionSpec",
        "[{'x': 1}, {'y': 2}, {'y': 2}, None, None, {'prop': 1}, {'prop': 1}]",
    ]
