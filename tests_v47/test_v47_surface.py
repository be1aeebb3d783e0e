"""ferrostator.v47's surface against pystator 0.0.47's, and the contract switch.

Runs in .venvs/v47 (``make test-v47``), where pystator 0.0.47 is installed.
"""

from __future__ import annotations

import asyncio
import inspect
import pickle
import sys
import types

import pytest

pystator = pytest.importorskip("pystator")
import pystator.actions as ps_actions  # noqa: E402
import pystator.errors as ps_errors  # noqa: E402

import ferrostator  # noqa: E402
import ferrostator.v47 as fv47  # noqa: E402
import ferrostator.v47.actions as fv47_actions  # noqa: E402


def _public(module: types.ModuleType) -> set[str]:
    """Names a module defines or re-exports from pystator (not stdlib imports)."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None)
        if origin is None or origin.startswith("pystator") or not callable(value):
            names.add(name)
    return names - {"annotations", "UTC"}  # from __future__ / datetime imports


def test_actions_module_mirrors_pystator_name_for_name() -> None:
    missing = {name for name in _public(ps_actions) if not hasattr(fv47_actions, name)}
    assert not missing
    assert _public(ps_actions) - {"CheckSpec"} <= set(fv47_actions.__all__)


def test_top_level_exports_the_action_surface() -> None:
    for name in fv47.__all__:
        assert hasattr(fv47, name), name
    for name in ("ActionSpec", "TransitionResult", "ErrorCode", "FSMError", "ActionNotFoundError"):
        assert hasattr(pystator, name) and hasattr(fv47, name)


def test_check_spec_is_pystators() -> None:
    from pystator._types import CheckSpec

    assert fv47_actions.CheckSpec is CheckSpec
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fv47_actions.nope  # noqa: B018


def test_error_code_members_are_pystators() -> None:
    assert [(m.name, m.value) for m in fv47.ErrorCode] == [
        (m.name, m.value) for m in ps_errors.ErrorCode
    ]
    assert len(ferrostator.ErrorCode) == 13  # the seed's enum is unchanged


def test_max_branch_depth() -> None:
    assert fv47.MAX_BRANCH_DEPTH == ps_actions.MAX_BRANCH_DEPTH == 8


def test_effect_types_are_pystators() -> None:
    from pystator._types import EFFECT_TYPES

    assert type(fv47.EFFECT_TYPES) is frozenset and fv47.EFFECT_TYPES == EFFECT_TYPES


def test_spec_fields_and_pickle() -> None:
    spec = fv47.ActionSpec.from_config({"name": "n", "params": {"a": 1}, "when": "x > 1"})
    assert (spec.name, spec.params, spec.when, spec.custom, spec.is_custom) == (
        "n",
        {"a": 1},
        "x > 1",
        False,
        False,
    )
    assert repr(spec) == repr(ps_actions.ActionSpec.from_config(
        {"name": "n", "params": {"a": 1}, "when": "x > 1"}
    ))  # fmt: skip
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert fv47.ActionSpec.__match_args__ == ps_actions.ActionSpec.__match_args__
    custom = fv47.ActionSpec.from_config({"custom": {"name": "c", "params": None}})
    assert custom.is_custom is True and custom.params == {}


def test_seed_contract_is_unchanged() -> None:
    assert not hasattr(ferrostator.ActionSpec("x"), "when")
    registry = ferrostator.ActionRegistry()
    registry.register("a", lambda ctx: 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", lambda ctx: 2)
    assert not hasattr(registry, "accepts_kwargs")
    assert not hasattr(ferrostator.ExecutionResult, "skipped_actions")


def test_registry_replaces_and_inspects_signatures() -> None:
    registry = fv47.ActionRegistry()
    registry.register("a", lambda ctx: 1)
    registry.register("b", lambda ctx, *, x=0: x)
    registry.register("a", lambda ctx, **kw: 2)
    assert registry.list_actions() == ["a", "b"]
    assert registry.accepts_kwargs("a") and registry.accepts_kwargs("b")
    registry.unregister("b")
    assert not registry.accepts_kwargs("b") and not registry.accepts_kwargs(3)


def test_executor_and_registry_contracts_must_match() -> None:
    with pytest.raises(TypeError, match="ferrostator.v47 ActionRegistry"):
        fv47.ActionExecutor(ferrostator.ActionRegistry())
    with pytest.raises(TypeError, match="ferrostator.actions ActionRegistry"):
        ferrostator.ActionExecutor(fv47.ActionRegistry())
    with pytest.raises(TypeError, match="registry must be"):
        fv47.ActionExecutor(object())


def test_pystator_registry_is_asked_at_each_lookup() -> None:
    registry = ps_actions.ActionRegistry()
    executor = fv47.ActionExecutor(registry, log_execution=False)
    assert executor.registry is registry
    registry.register("late", lambda ctx, *, n=0: n + 1)
    spec = fv47.ActionSpec("late", params={"n": 41})
    assert executor.execute_action_spec(spec, {}).result == 42
    registry.register("late", lambda ctx, *, n=0: n - 1)
    assert executor.execute_action_spec(spec, {}).result == 40
    registry.unregister("late")
    assert executor.execute_action_spec(spec, {}).is_skipped


def test_kwargs_params_and_refusal_messages() -> None:
    registry = fv47.ActionRegistry()
    registry.register("plain", lambda ctx: "called")
    registry.register("kw", lambda ctx, **kw: kw)
    executor = fv47.ActionExecutor(registry, log_execution=False)
    ctx: dict = {}
    refused = executor.execute_action_spec(fv47.ActionSpec("plain", params={"a": 1}), ctx)
    assert isinstance(refused.error, TypeError)
    assert str(refused.error) == (
        "Action 'plain' has params but its callable does not accept keyword arguments"
    )
    passed = executor.execute_action_spec(fv47.ActionSpec("kw", params={"a": 1}), ctx)
    assert passed.result == {"a": 1} and ctx == {}
    result = asyncio.run(
        executor.async_execute_action_spec(fv47.ActionSpec("kw", params={"b": 2}), ctx)
    )
    assert result.result == {"b": 2} and ctx == {}


def test_skipped_is_not_a_success() -> None:
    executor = fv47.ActionExecutor(fv47.ActionRegistry(), log_execution=False)
    tr = fv47.TransitionResult.success_result("a", "b", "go", actions=(fv47.ActionSpec("ghost"),))
    result = executor.execute(tr, {})
    assert isinstance(result, fv47.ExecutionResult)
    assert (result.all_succeeded, result.succeeded_actions, result.skipped_actions) == (
        False,
        [],
        ["ghost"],
    )
    built = fv47.ExecutionResult(tr, [fv47.ActionResult.skipped("x")])
    assert (built.all_succeeded, built.skipped_actions) == (False, ["x"])


def test_without_pystator_the_error_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    executor = fv47.ActionExecutor(fv47.ActionRegistry(), log_execution=False)
    for module in ("pystator._expr", "pystator.checks", "pystator.http_action"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails
    expected = r"install pystator 0\.0\.47 to use it: pip install 'pystator==0\.0\.47'"
    with pytest.raises(ImportError, match=expected):
        executor.execute_action_spec(fv47.ActionSpec("_http", params={"url": "http://x"}), {})
    with pytest.raises(ImportError, match=expected):  # a `when` written as a check
        executor.execute_action_spec(
            fv47.ActionSpec.from_config(
                {"name": "x", "when": {"field": "n", "op": "gt", "value": 1}}
            ),
            {"n": 1},
        )
    # `when` strings and `compute` run on ferrostator's expression engine, without pystator
    skipped = executor.execute_action_spec(fv47.ActionSpec("x", when="n > 1"), {"n": 1})
    assert skipped.status == fv47.ActionStatus.SKIPPED
    context: dict = {}
    fv47.apply_effect("compute", {"x": "1 + 1"}, context)
    assert context == {"x": 2}


def test_signatures_match_pystators() -> None:
    for name in ("ActionSpec",):
        ours = inspect.signature(getattr(fv47, name))
        theirs = inspect.signature(getattr(ps_actions, name))
        assert list(ours.parameters) == list(theirs.parameters)
    ours = inspect.signature(fv47.ActionExecutor.async_execute_action_spec)
    theirs = inspect.signature(ps_actions.ActionExecutor.async_execute_action_spec)
    assert list(ours.parameters) == list(theirs.parameters)


def test_bad_input_is_a_clear_error() -> None:
    executor = fv47.ActionExecutor(fv47.ActionRegistry(), log_execution=False)
    spec = fv47.ActionSpec("x")
    with pytest.raises(TypeError, match="branch_enclosing_depth must be an int, got str"):
        executor.execute_action_spec(spec, {}, branch_enclosing_depth="1")
    with pytest.raises(TypeError, match="branch_enclosing_depth must be an int"):
        asyncio.run(executor.async_execute_action_spec(spec, {}, branch_enclosing_depth=1.5))
    deep = fv47.ActionSpec.from_config({"branch": {"when": "True", "then": [{"set": {"a": 1}}]}})
    result = executor.execute_action_spec(deep, {}, branch_enclosing_depth=10**30)
    assert str(result.error) == "branch nesting exceeds 8"
    assert executor.execute_action_spec(deep, {}, branch_enclosing_depth=-(10**30)).success
    with pytest.raises(ValueError, match="http action requires a mapping"):
        fv47.ActionSpec.from_config({"http": "http://example.invalid"})
    with pytest.raises(TypeError, match="action_results_to_payload item must be an ActionResult"):
        fv47.action_results_to_payload([1])
    with pytest.raises(ValueError, match="Unknown effect type: 3"):
        fv47.apply_effect(3, {}, {})  # type: ignore[arg-type]
