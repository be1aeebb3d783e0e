//! Tests of the Rust core through an embedded interpreter (`cargo test`; the
//! behaviour seen from Python is covered by the pytest suite).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::attempt::backoff_delay;
use crate::contract::Contract;
use crate::effects;
use crate::executor::Executor;
use crate::registry::Registry;
use crate::results::ActionResult;
use crate::spec::{ActionSpec, Job, TransitionResult};

fn registry(py: Python<'_>) -> Bound<'_, Registry> {
    py.get_type::<Registry>().call0().unwrap().cast_into::<Registry>().unwrap()
}

fn run<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyDict> {
    let globals = PyDict::new(py);
    let code = std::ffi::CString::new(code).unwrap();
    py.run(&code, Some(&globals), None).unwrap();
    globals
}

#[test]
fn registry_keeps_registration_order_and_refuses_duplicates() {
    Python::attach(|py| {
        let reg = registry(py);
        let f = run(py, "def f(ctx): return 1").get_item("f").unwrap().unwrap();
        for name in ["b", "a", "c"] {
            reg.call_method1("register", (name, &f)).unwrap();
        }
        let names: Vec<String> = reg.call_method0("list_actions").unwrap().extract().unwrap();
        assert_eq!(names, ["b", "a", "c"]);
        let err = reg.call_method1("register", ("a", &f)).unwrap_err();
        assert!(err.to_string().contains("Action 'a' is already registered"));
        reg.call_method1("unregister", ("a",)).unwrap();
        reg.call_method1("register", ("a", &f)).unwrap();
        let names: Vec<String> = reg.call_method0("list_actions").unwrap().extract().unwrap();
        assert_eq!(names, ["b", "c", "a"]);
        assert!(reg.get().lookup(b"a").is_some());
        reg.call_method0("clear").unwrap();
        assert!(reg.get().lookup(b"a").is_none());
    });
}

#[test]
fn registry_refuses_bad_input_with_type_errors() {
    Python::attach(|py| {
        let reg = registry(py);
        let f = run(py, "def f(ctx): return 1").get_item("f").unwrap().unwrap();
        let err = reg.call_method1("register", (1, &f)).unwrap_err();
        assert!(err.is_instance_of::<pyo3::exceptions::PyTypeError>(py));
        let err = reg.call_method1("register", ("x", 42)).unwrap_err();
        assert!(err.is_instance_of::<pyo3::exceptions::PyTypeError>(py));
        assert!(err.to_string().contains("must be callable"));
        let err = reg.call_method1("register", ("", &f)).unwrap_err();
        assert!(err.is_instance_of::<pyo3::exceptions::PyValueError>(py));
        assert_eq!(reg.call_method0("__len__").unwrap().extract::<usize>().unwrap(), 0);
    });
}

#[test]
fn registry_detects_async_callables() {
    Python::attach(|py| {
        let reg = registry(py);
        let g = run(py, "async def a(ctx): return 1\nclass C:\n    async def __call__(self, ctx): return 2\nc = C()\ndef s(ctx): return 3");
        for name in ["a", "c", "s"] {
            reg.call_method1("register", (name, g.get_item(name).unwrap().unwrap())).unwrap();
        }
        let is_async = |n: &str| reg.get().lookup(n.as_bytes()).unwrap().is_async;
        assert!(is_async("a"));
        assert!(is_async("c"));
        assert!(!is_async("s"));
    });
}

#[test]
fn registry_is_consistent_under_concurrent_writers() {
    let reg: Py<Registry> = Python::attach(|py| registry(py).unbind());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let reg = Python::attach(|py| reg.clone_ref(py));
            std::thread::spawn(move || {
                Python::attach(|py| {
                    let f = run(py, "def f(ctx): return 1").get_item("f").unwrap().unwrap();
                    let reg = reg.bind(py);
                    for i in 0..200 {
                        let name = format!("t{t}_{i}");
                        reg.call_method1("register", (&name, &f)).unwrap();
                        if i % 2 == 0 {
                            reg.call_method1("unregister", (&name,)).unwrap();
                        }
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Python::attach(|py| {
        let names: Vec<String> = reg.bind(py).call_method0("list_actions").unwrap().extract().unwrap();
        assert_eq!(names.len(), 4 * 100);
        assert!(names.iter().all(|n| n.rsplit('_').next().unwrap().parse::<u32>().unwrap() % 2 == 1));
    });
}

#[test]
fn specs_resolve_directly_and_through_attributes() {
    Python::attach(|py| {
        let params = PyDict::new(py);
        params.set_item("k", 1).unwrap();
        let kwargs = PyDict::new(py);
        kwargs.set_item("params", &params).unwrap();
        kwargs.set_item("retry", -3).unwrap();
        let ours = py.get_type::<ActionSpec>().call(("a",), Some(&kwargs)).unwrap();
        let job = Job::from_spec(&ours, true, Contract::Seed).unwrap();
        assert_eq!(job.name.to_str().unwrap(), "a");
        assert!(job.params.is_some());
        assert_eq!(job.retries, 0, "negative retry means no retries");
        assert!(job.timeout.is_none());

        let foreign = run(
            py,
            "import types\nspec = types.SimpleNamespace(name='b', params={}, has_params=False, timeout=2.5, retry=2, retry_backoff=0.5)",
        )
        .get_item("spec")
        .unwrap()
        .unwrap();
        let job = Job::from_spec(&foreign, true, Contract::Seed).unwrap();
        assert_eq!(job.name.to_str().unwrap(), "b");
        assert!(job.params.is_none());
        assert_eq!(job.retries, 2);
        assert!(job.timeout.is_some());
        assert!(Job::from_spec(&foreign, false, Contract::Seed).unwrap().timeout.is_none());

        let broken = run(py, "import types\nspec = types.SimpleNamespace(name=3)").get_item("spec").unwrap().unwrap();
        let err = Job::from_spec(&broken, false, Contract::Seed).err().unwrap();
        assert!(err.is_instance_of::<pyo3::exceptions::PyTypeError>(py));
    });
}

#[test]
fn action_spec_validates_its_fields() {
    Python::attach(|py| {
        let cls = py.get_type::<ActionSpec>();
        let with = |key: &str, value: Bound<'_, PyAny>| {
            let kwargs = PyDict::new(py);
            kwargs.set_item(key, value).unwrap();
            cls.call(("a",), Some(&kwargs))
        };
        let nan = f64::NAN.into_pyobject(py).unwrap().into_any();
        assert!(with("retry_backoff", nan.clone()).unwrap_err().is_instance_of::<pyo3::exceptions::PyValueError>(py));
        assert!(with("timeout", nan).unwrap_err().is_instance_of::<pyo3::exceptions::PyValueError>(py));
        let text = "3".into_pyobject(py).unwrap().into_any();
        assert!(with("retry", text).unwrap_err().is_instance_of::<pyo3::exceptions::PyTypeError>(py));
        assert!(cls.call0().unwrap_err().is_instance_of::<pyo3::exceptions::PyValueError>(py));
    });
}

#[test]
fn backoff_keeps_the_number_type() {
    Python::attach(|py| {
        let kwargs = PyDict::new(py);
        kwargs.set_item("retry_backoff", 2).unwrap();
        let spec = py.get_type::<ActionSpec>().call(("a",), Some(&kwargs)).unwrap();
        let job = Job::from_spec(&spec, false, Contract::Seed).unwrap();
        let delays: Vec<i64> = (1..=4).map(|n| backoff_delay(py, &job, n).unwrap().extract().unwrap()).collect();
        assert_eq!(delays, [2, 4, 8, 16]);
        assert!(backoff_delay(py, &job, 1).unwrap().is_exact_instance_of::<pyo3::types::PyInt>());
    });
}

#[test]
fn effects_mutate_the_context() {
    Python::attach(|py| {
        let ctx = PyDict::new(py);
        let params = |code: &str| run(py, &format!("p = {code}")).get_item("p").unwrap().unwrap();
        effects::apply("increment", &params("{'field': 'n'}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("increment", &params("{'field': 'n'}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("decrement", &params("{'field': 'm'}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("append", &params("{'field': 'h', 'value': 1}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("set", &params("{'a': 'b'}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("timestamp", &params("{'field': 't'}"), ctx.as_any(), Contract::Seed).unwrap();
        effects::apply("clear", &params("{'field': 'a'}"), ctx.as_any(), Contract::Seed).unwrap();
        assert_eq!(ctx.get_item("n").unwrap().unwrap().extract::<i64>().unwrap(), 2);
        assert_eq!(ctx.get_item("m").unwrap().unwrap().extract::<i64>().unwrap(), -1);
        assert_eq!(ctx.get_item("h").unwrap().unwrap().extract::<Vec<i64>>().unwrap(), [1]);
        assert!(ctx.get_item("a").unwrap().is_none());
        let stamp: String = ctx.get_item("t").unwrap().unwrap().extract().unwrap();
        assert!(stamp.ends_with("+00:00") && stamp.contains('T'), "{stamp}");
        let err = effects::apply("nope", &params("{}"), ctx.as_any(), Contract::Seed).unwrap_err();
        assert_eq!(err.to_string(), "ValueError: Unknown effect type: nope");
        let err = effects::apply("increment", &params("{}"), ctx.as_any(), Contract::Seed).unwrap_err();
        assert!(err.is_instance_of::<pyo3::exceptions::PyKeyError>(py));
    });
}

#[test]
fn executor_retries_transient_errors_through_time_sleep() {
    Python::attach(|py| {
        let reg = registry(py);
        let g = run(
            py,
            "import time\nslept = []\ntime.sleep = slept.append\ncalls = []\n\
def flaky(ctx):\n    calls.append(1)\n    if len(calls) < 3:\n        raise ConnectionError('down')\n    return 'up'",
        );
        reg.call_method1("register", ("flaky", g.get_item("flaky").unwrap().unwrap())).unwrap();
        let exec = py.get_type::<Executor>().call1((&reg,)).unwrap().cast_into::<Executor>().unwrap();
        let kwargs = PyDict::new(py);
        kwargs.set_item("retry", 3).unwrap();
        kwargs.set_item("retry_backoff", 0.5).unwrap();
        let spec = py.get_type::<ActionSpec>().call(("flaky",), Some(&kwargs)).unwrap();
        let tr_kwargs = PyDict::new(py);
        tr_kwargs.set_item("actions_to_execute", PyTuple::new(py, [spec]).unwrap()).unwrap();
        let tr = py.get_type::<TransitionResult>().call((true, "a", "b", "go"), Some(&tr_kwargs)).unwrap();
        let er = exec.call_method1("execute", (&tr, PyDict::new(py))).unwrap();
        let results = er.getattr("action_results").unwrap().cast_into::<PyList>().unwrap();
        let first = results.get_item(0).unwrap().cast_into::<ActionResult>().unwrap();
        assert!(first.get().success(py).bind(py).is_truthy().unwrap());
        assert_eq!(first.get().result(py).bind(py).extract::<String>().unwrap(), "up");
        let slept: Vec<f64> = g.get_item("slept").unwrap().unwrap().extract().unwrap();
        assert_eq!(slept, [0.5, 1.0]);
        py.run(c"import importlib, time; importlib.reload(time)", None, None).unwrap();
    });
}

#[test]
fn v47_effects_check_value_types() {
    Python::attach(|py| {
        let ctx = PyDict::new(py);
        ctx.set_item("s", "text").unwrap();
        ctx.set_item("b", true).unwrap();
        let params = |code: &str| run(py, &format!("p = {code}")).get_item("p").unwrap().unwrap();
        // The seed contract applies `+ 1` whatever the value; 0.0.47 wants a number.
        let err = effects::apply("increment", &params("{'field': 'b'}"), ctx.as_any(), Contract::V47).unwrap_err();
        assert_eq!(err.to_string(), "TypeError: Cannot increment field 'b': expected a numeric value, got bool");
        effects::apply("increment", &params("{'field': 'b'}"), ctx.as_any(), Contract::Seed).unwrap();
        let err =
            effects::apply("append", &params("{'field': 's', 'value': 1}"), ctx.as_any(), Contract::V47).unwrap_err();
        assert_eq!(err.to_string(), "TypeError: Cannot append to field 's': expected a list value, got str");
        let err = effects::apply("compute", &params("{}"), ctx.as_any(), Contract::Seed).unwrap_err();
        assert_eq!(err.to_string(), "ValueError: Unknown effect type: compute");
    });
}

#[test]
fn contract_lists_its_differences() {
    assert!(Contract::V47.params_as_kwargs() && !Contract::Seed.params_as_kwargs());
    assert!(Contract::V47.register_replaces() && !Contract::Seed.register_replaces());
    assert!(Contract::V47.is_builtin_action(b"_branch") && !Contract::Seed.is_builtin_action(b"_branch"));
    assert!(!Contract::V47.is_builtin_action(b"_effect.set"));
    assert!(Contract::Seed.skipped_counts_as_succeeded() && !Contract::V47.skipped_counts_as_succeeded());
    assert_eq!(Contract::V47.effect_types().len(), Contract::Seed.effect_types().len() + 1);
}
