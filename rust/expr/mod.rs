//! The expression engine: pystator's `expr` guards, `when` conditions, `compute` effects
//! and `{{ }}` templates, evaluated as simpleeval evaluates them (`SimpleEval(names=...)`
//! with a table of functions) but compiled once per source text and walked natively.
//! It owns compiling ([`compile`]: Python's parser, then a tree of its own, and what is
//! left to simpleeval), the bounded table of compiled sources ([`cache`]), evaluation
//! ([`eval`]: order, operators, short-circuits) and simpleeval's rules ([`rules`]: its
//! exceptions and messages, limits, attribute rules, refusals — the sandbox). Values stay
//! Python objects and operators are Python's. What the tree does not cover, a names
//! object that is not a dict, or a simpleeval version the tests have not verified runs
//! on simpleeval itself, so the answer is always simpleeval's.

mod cache;
mod compile;
mod eval;
mod rules;

use arc_swap::ArcSwapOption;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use crate::contract::Contract;
use compile::Compiled;
pub use rules::VERIFIED_SIMPLEEVAL;

/// An evaluator with a table of functions: `Evaluator(functions).eval(expr, names)`
/// answers as `s = SimpleEval(names=names); s.functions = functions; s.eval(expr)` does.
#[pyclass(name = "Evaluator", module = "ferrostator._core", frozen, weakref)]
pub struct Evaluator {
    /// Held by reference (read at each call); cleared only by the garbage collector.
    functions: ArcSwapOption<Py<PyAny>>,
}

#[pymethods]
impl Evaluator {
    #[new]
    fn py_new(functions: Bound<'_, PyAny>) -> Self {
        Evaluator { functions: ArcSwapOption::from_pointee(functions.unbind()) }
    }

    /// The value of `expr` with `names` as its variables.
    fn eval<'py>(
        &self,
        py: Python<'py>,
        expr: &Bound<'py, PyAny>,
        names: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        evaluate(py, &self.functions(py)?, expr, names)
    }

    /// `bool(self.eval(expr, names))`.
    fn eval_bool(&self, py: Python<'_>, expr: &Bound<'_, PyAny>, names: &Bound<'_, PyAny>) -> PyResult<bool> {
        evaluate(py, &self.functions(py)?, expr, names)?.is_truthy()
    }

    /// The function table.
    #[getter(functions)]
    fn functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &*self.functions.load() {
            Some(functions) => Ok(functions.bind(py).clone()),
            None => {
                Err(pyo3::exceptions::PyRuntimeError::new_err("this Evaluator was cleared by the garbage collector"))
            }
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(functions) = &*self.functions.load() {
            visit.call(&**functions)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.functions.store(None);
    }
}

/// `expr`'s value as simpleeval gives it, with `functions` as the function table.
pub fn evaluate<'py>(
    py: Python<'py>,
    functions: &Bound<'py, PyAny>,
    expr: &Bound<'py, PyAny>,
    names: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let rules = rules::simpleeval(py)?;
    // a callable names object is called with the parsed Name node: left to simpleeval
    let (true, Ok(source), Ok(dict), Ok(table)) =
        (rules.verified, expr.cast_exact::<PyString>(), names.cast::<PyDict>(), functions.cast_exact::<PyDict>())
    else {
        return on_simpleeval(py, functions, expr, names, None);
    };
    if !dict.is_exact_instance_of::<PyDict>() && dict.is_callable() {
        return on_simpleeval(py, functions, expr, names, None);
    }
    cache::with_compiled(py, source, |compiled| match compiled {
        Some(Compiled::Native { statement, multiple }) => {
            if *multiple {
                rules.warn_multiple(py, expr)?;
            }
            eval::Scope { py, rules, names: dict, functions: table, source: expr }.statement(statement)
        }
        Some(Compiled::Simpleeval { parsed: Some(parsed), multiple }) => {
            if *multiple {
                rules.warn_multiple(py, expr)?;
            }
            on_simpleeval(py, functions, expr, names, Some(parsed.bind(py)))
        }
        Some(Compiled::Simpleeval { parsed: None, .. }) | None => on_simpleeval(py, functions, expr, names, None),
    })
}

/// simpleeval itself: `SimpleEval(names=names)` with `functions`, on the parsed first
/// statement when there is one.
fn on_simpleeval<'py>(
    py: Python<'py>,
    functions: &Bound<'py, PyAny>,
    expr: &Bound<'py, PyAny>,
    names: &Bound<'py, PyAny>,
    parsed: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let rules = rules::simpleeval(py)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item(pyo3::intern!(py, "names"), names)?;
    let evaluator = rules.simple_eval.bind(py).call((), Some(&kwargs))?;
    evaluator.setattr(pyo3::intern!(py, "functions"), functions)?;
    match parsed {
        Some(parsed) => evaluator.call_method1(pyo3::intern!(py, "eval"), (expr, parsed)),
        None => evaluator.call_method1(pyo3::intern!(py, "eval"), (expr,)),
    }
}

static SEED: PyOnceLock<Option<Py<Evaluator>>> = PyOnceLock::new();
static V47: PyOnceLock<Option<Py<Evaluator>>> = PyOnceLock::new();

/// The evaluator of a contract's pystator: simpleeval's default functions plus the
/// contract's table. None when simpleeval is not installed.
pub fn for_contract(py: Python<'_>, contract: Contract) -> PyResult<Option<&'static Py<Evaluator>>> {
    let cell = match contract {
        Contract::Seed => &SEED,
        Contract::V47 => &V47,
    };
    let evaluator = cell.get_or_try_init(py, || -> PyResult<_> {
        let rules = match rules::simpleeval(py) {
            Ok(rules) => rules,
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyImportError>(py) => return Ok(None),
            Err(err) => return Err(err),
        };
        let functions = rules.module.bind(py).getattr("DEFAULT_FUNCTIONS")?.call_method0("copy")?;
        let builtins = py.import("builtins")?;
        for name in contract.expression_functions() {
            functions.set_item(*name, builtins.getattr(*name)?)?;
        }
        Ok(Some(Py::new(py, Evaluator { functions: ArcSwapOption::from_pointee(functions.unbind()) })?))
    })?;
    Ok(evaluator.as_ref())
}

/// The contract's evaluator when expressions run natively (simpleeval installed at a
/// verified version); None when pystator's own evaluation should run.
fn native_for(py: Python<'_>, contract: Contract) -> PyResult<Option<&'static Py<Evaluator>>> {
    if !_simpleeval_verified(py)? {
        return Ok(None);
    }
    for_contract(py, contract)
}

/// `bool(expr)` on the contract's evaluator, or None when expressions run on pystator.
pub fn contract_bool(
    py: Python<'_>,
    contract: Contract,
    expr: &Bound<'_, PyAny>,
    names: &Bound<'_, PyAny>,
) -> PyResult<Option<bool>> {
    match native_for(py, contract)? {
        Some(evaluator) => Ok(Some(evaluator.get().eval_bool(py, expr, names)?)),
        None => Ok(None),
    }
}

/// `expr`'s value on the contract's evaluator, or None when expressions run on pystator.
pub fn contract_value<'py>(
    py: Python<'py>,
    contract: Contract,
    expr: &Bound<'py, PyAny>,
    names: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match native_for(py, contract)? {
        Some(evaluator) => Ok(Some(evaluator.get().eval(py, expr, names)?)),
        None => Ok(None),
    }
}

/// Whether simpleeval is installed at one of [`VERIFIED_SIMPLEEVAL`]'s versions.
#[pyfunction]
pub fn _simpleeval_verified(py: Python<'_>) -> PyResult<bool> {
    match rules::simpleeval(py) {
        Ok(rules) => Ok(rules.verified),
        Err(err) if err.is_instance_of::<pyo3::exceptions::PyImportError>(py) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The evaluator of a contract (`"seed"` or `"v47"`), or None when simpleeval is not
/// installed.
#[pyfunction]
pub fn _contract_evaluator(py: Python<'_>, contract: &str) -> PyResult<Option<Py<Evaluator>>> {
    let contract = match contract {
        "seed" => Contract::Seed,
        "v47" => Contract::V47,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "contract must be 'seed' or 'v47', not {other:?}"
            )))
        }
    };
    Ok(for_contract(py, contract)?.map(|e| e.clone_ref(py)))
}

/// How many compiled sources are kept (for tests of the bound).
#[pyfunction]
pub fn _expression_cache_size() -> usize {
    cache::len()
}
