"""The expression engine's own guarantees, beyond answering as simpleeval does (that is
tests/test_expressions_differential.py): the compiled-text table stays bounded, an
Evaluator takes part in the cyclic GC, threads share compiled texts, the contract
evaluators carry their pystator's function tables, and with a simpleeval version that
is not verified every evaluation runs on simpleeval itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import weakref
from decimal import Decimal

import pytest
from conftest import COLLECTS_GARBAGE, collect_until

simpleeval = pytest.importorskip("simpleeval")

from ferrostator import _core, expressions  # noqa: E402


def _reference(expr, names, functions):
    evaluator = simpleeval.SimpleEval(names=names)
    evaluator.functions = functions
    return evaluator.eval(expr)


def test_the_installed_simpleeval_is_verified():
    assert expressions.native()
    assert list(expressions.VERIFIED_SIMPLEEVAL) == ["1.0.8"]


@pytest.mark.parametrize(
    ("contract", "extra"),
    [
        ("seed", {"len", "min", "max", "abs", "sum"}),
        (
            "v47",
            {"len", "min", "max", "abs", "sum", "round", "str", "int", "float", "bool"}
            | {"any", "all"},
        ),
    ],
)
def test_contract_tables_are_simpleevals_defaults_plus_pystators(contract, extra):
    functions = expressions.evaluator(contract).functions
    assert set(functions) == set(simpleeval.DEFAULT_FUNCTIONS) | extra
    import builtins

    assert all(functions[name] is getattr(builtins, name) for name in extra)


def test_the_guard_table_is_the_seeds_and_the_expr_table_0_0_47s():
    ctx = {"xs": [1, 2, 3]}
    assert expressions.evaluate_guard("sum(xs) == 6 and len(xs) == 3", ctx)
    with pytest.raises(simpleeval.FunctionNotDefined):
        expressions.evaluate_guard("any(xs)", ctx)
    assert expressions.evaluate_bool_expr("any(xs) and round(2.5) == 2", ctx)
    assert expressions.evaluate_expr("str(sum(xs)) + 'x'", ctx) == "6x"


def test_templates_render_as_pystator_0_0_47_renders_them():
    ctx = {"order_id": 7, "price": Decimal("2.50"), "qty": 3}
    assert expressions.render_template("/o/{{ order_id }}?t={{price*qty}}", ctx) == "/o/7?t=7.50"
    # a block whose expression fails is left as it is
    assert expressions.render_template("{{ missing }}-{{ 1 + }}", ctx) == "{{ missing }}-{{ 1 + }}"
    value = {"a": ["{{ qty }}", 1], "b": "{{ qty * 2 }}", "c": None}
    assert expressions.render_template_value(value, ctx) == {"a": ["3", 1], "b": "6", "c": None}


@pytest.mark.thread_unsafe(reason="counts the process-wide table of compiled texts")
def test_compiled_texts_are_kept_once_and_the_table_stays_bounded():
    ev = expressions.evaluator("v47")
    ev.eval("amount + 1", {"amount": 1})
    before = _core._expression_cache_size()
    for _ in range(10):
        assert ev.eval("amount + 1", {"amount": 1}) == 2
    assert _core._expression_cache_size() == before
    for n in range(5_000):
        assert ev.eval(f"n + {n}", {"n": 1}) == n + 1
    assert 0 < _core._expression_cache_size() <= 4096


@COLLECTS_GARBAGE
def test_an_evaluator_in_a_cycle_is_collected():
    functions: dict = {}
    ev = _core.Evaluator(functions)
    functions["self_eval"] = ev.eval  # evaluator -> functions -> bound method -> evaluator
    probe = weakref.ref(ev)
    assert ev.eval("self_eval('1 + 1', inner)", {"inner": {}}) == 2
    del ev, functions
    assert collect_until(lambda: probe() is None)


def test_an_evaluators_functions_are_read_at_each_call():
    functions = dict(simpleeval.DEFAULT_FUNCTIONS)
    ev = _core.Evaluator(functions)
    with pytest.raises(simpleeval.FunctionNotDefined):
        ev.eval("double(2)", {})
    functions["double"] = lambda x: 2 * x
    assert ev.eval("double(2)", {}) == 4


@pytest.mark.thread_unsafe(reason="changes simpleeval's module settings")
def test_simpleeval_settings_are_read_when_they_apply(monkeypatch):
    ev = expressions.evaluator("v47")
    assert ev.eval("2 ** 10", {}) == 1024
    monkeypatch.setattr(simpleeval, "MAX_POWER", 5)
    with pytest.raises(simpleeval.NumberTooHigh, match=r"evaluate 2 \*\* 10"):
        ev.eval("2 ** 10", {})
    monkeypatch.setattr(simpleeval, "MAX_STRING_LENGTH", 3)
    with pytest.raises(simpleeval.IterableTooLong):
        ev.eval("'abcd'", {})
    monkeypatch.setattr(simpleeval, "DISALLOW_METHODS", [*simpleeval.DISALLOW_METHODS, "upper"])
    with pytest.raises(simpleeval.FeatureNotAvailable):
        ev.eval("s.upper()", {"s": "x"})


@pytest.mark.thread_unsafe(reason="starts threads of its own")
def test_threads_share_compiled_texts_and_get_their_own_answers():
    ev = expressions.evaluator("v47")
    texts = [f"a * {k} + b if a > {k % 7} else -b" for k in range(50)]
    rounds, threads_count = 40, 8
    # simpleeval's answers first, on this thread: CPython 3.11's ast.parse is not safe to
    # run from several threads at once, and simpleeval parses at every evaluation
    expected = {
        (seed + round_, k): _reference(text, {"a": seed + round_, "b": k}, ev.functions)
        for seed in range(threads_count)
        for round_ in range(rounds)
        for k, text in enumerate(texts)
    }
    failures: list[str] = []
    barrier = threading.Barrier(threads_count)

    def work(seed: int) -> None:
        barrier.wait()
        for round_ in range(rounds):
            for k, text in enumerate(texts):
                names = {"a": seed + round_, "b": k}
                want = expected[seed + round_, k]
                got = ev.eval(text, names)
                if got != want or type(got) is not type(want):
                    failures.append(f"{text} {names}: {got!r} != {want!r}")

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize(
    "expr",
    [
        "-" * 300 + "1",  # deeper than the compiled tree goes: simpleeval's own behaviour
        "+".join(["1"] * 200),
        "(" * 250 + "1" + ")" * 250,  # the parser refuses
        "1" * 5000,  # past int's digit limit
        "'" + "x" * 200_000 + "'",  # over MAX_STRING_LENGTH, and not kept
    ],
)
def test_deep_and_huge_texts_give_simpleevals_answer(expr):
    ev = expressions.evaluator("v47")

    def outcome(run):
        try:
            return "value", repr(run())
        except (Exception, RecursionError) as error:  # noqa: BLE001
            return type(error).__name__, str(error)

    assert outcome(lambda: ev.eval(expr, {})) == outcome(lambda: _reference(expr, {}, ev.functions))


def test_a_simpleeval_version_not_verified_runs_everything_on_simpleeval(tmp_path):
    # A distribution record claiming another version, first on the path: the module
    # imported is still the real simpleeval, but its version is not a verified one.
    info = tmp_path / "simpleeval-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: simpleeval\nVersion: 9.9.9\n")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import simpleeval
        calls = []
        original = simpleeval.SimpleEval.eval
        def counting(self, expr, previously_parsed=None):
            calls.append(expr)
            return original(self, expr, previously_parsed)
        simpleeval.SimpleEval.eval = counting
        from ferrostator import _core, expressions
        assert not expressions.native()
        assert expressions.evaluate_bool_expr("a > 1", {{"a": 2}})
        assert _core._expression_cache_size() == 0
        assert calls == ["a > 1"], calls
        import importlib.util
        import ferrostator.v47 as v47
        ex = v47.ActionExecutor(v47.ActionRegistry(), log_execution=False)
        spec = v47.ActionSpec("x", when="a > 5")
        if importlib.util.find_spec("pystator._expr") is None:
            try:
                ex.execute_action_spec(spec, {{"a": 2}})
            except ImportError as error:  # pystator's own path, which 0.0.25 lacks
                assert "pystator 0.0.47" in str(error)
            else:
                raise AssertionError("the when did not go to pystator")
        else:
            assert ex.execute_action_spec(spec, {{"a": 2}}).status.value == "skipped"
            assert calls == ["a > 1", "a > 5"], calls
        print("ok")
    """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
