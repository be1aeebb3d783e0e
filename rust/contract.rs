//! The pystator release whose behaviour a registry, executor, spec or result follows.
//!
//! ferrostator serves two contracts from one core: the seed's, pystator 0.0.25
//! (`ferrostator`, `ferrostator.actions`), and pystator 0.0.47's (`ferrostator.v47`).
//! Every place where they differ asks the [`Contract`] value its object was created
//! with, through the named methods below: this module is the one list of the
//! differences. The Python-level helpers 0.0.47 needs (its `when` evaluation, the
//! `_http` / `_code` / `_branch` built-in actions, the `compute` effect, signature
//! inspection) live in `prelude.py` under names starting with `_v47_`.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::defs::defs;

/// Which pystator release's action semantics an object follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Contract {
    /// pystator 0.0.25 (the seed contract).
    Seed,
    /// pystator 0.0.47.
    V47,
}

/// 0.0.47's built-in action names, run without the registry when a spec names them.
const BUILTIN_ACTIONS: [&str; 3] = ["_http", "_code", "_branch"];

/// The effect types, in the order `from_config` looks for them: the seed's are the
/// first six, 0.0.47 adds `compute`.
const EFFECTS: [&str; 7] = ["set", "timestamp", "increment", "decrement", "append", "clear", "compute"];
const SEED_EFFECT_COUNT: usize = 6;

/// The builtins expressions may call: the seed's are the first five.
const EXPRESSION_FUNCTIONS: [&str; 12] =
    ["len", "min", "max", "abs", "sum", "round", "str", "int", "float", "bool", "any", "all"];
const SEED_EXPRESSION_FUNCTIONS: usize = 5;

/// `branch` actions nest at most this deep (0.0.47's `MAX_BRANCH_DEPTH`).
pub const MAX_BRANCH_DEPTH: u32 = 8;

impl Contract {
    /// The pystator version this contract follows.
    pub const fn version(self) -> &'static str {
        match self {
            Contract::Seed => "0.0.25",
            Contract::V47 => "0.0.47",
        }
    }

    /// Params reach the action as keyword arguments (`func(ctx, **params)`, only when
    /// its signature accepts them; otherwise the action fails with TypeError, uncalled)
    /// instead of through `context["_action_params"]`.
    pub const fn params_as_kwargs(self) -> bool {
        matches!(self, Contract::V47)
    }

    /// Registering a name again replaces the action (the seed raises ValueError).
    pub const fn register_replaces(self) -> bool {
        matches!(self, Contract::V47)
    }

    /// Specs carry a `when` condition, checked before the action runs on every path.
    pub const fn has_when(self) -> bool {
        matches!(self, Contract::V47)
    }

    /// Whether a spec naming `key` runs one of 0.0.47's built-in actions.
    pub fn is_builtin_action(self, key: &[u8]) -> bool {
        matches!(self, Contract::V47) && BUILTIN_ACTIONS.iter().any(|name| name.as_bytes() == key)
    }

    /// A skipped result counts as succeeded in `all_succeeded` / `succeeded_actions`
    /// (0.0.47 asks for status OK and lists skipped ones in `skipped_actions`).
    pub const fn skipped_counts_as_succeeded(self) -> bool {
        matches!(self, Contract::Seed)
    }

    /// The declarative effect types.
    pub const fn effect_types(self) -> &'static [&'static str] {
        match self {
            Contract::Seed => EFFECTS.split_at(SEED_EFFECT_COUNT).0,
            Contract::V47 => &EFFECTS,
        }
    }

    /// The builtins an expression may call besides simpleeval's default functions:
    /// 0.0.25's inline guards add five, 0.0.47's `pystator._expr` twelve.
    pub const fn expression_functions(self) -> &'static [&'static str] {
        match self {
            Contract::Seed => EXPRESSION_FUNCTIONS.split_at(SEED_EXPRESSION_FUNCTIONS).0,
            Contract::V47 => &EXPRESSION_FUNCTIONS,
        }
    }

    /// increment/decrement need a number, append a list (with 0.0.47's TypeErrors).
    pub const fn checks_effect_values(self) -> bool {
        matches!(self, Contract::V47)
    }

    /// The `ErrorCode` enum of this contract (0.0.47 adds three members).
    pub fn error_code<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = match self {
            Contract::Seed => "ErrorCode",
            Contract::V47 => "_V47ErrorCode",
        };
        prelude_item(py, name)
    }
}

/// A name defined by `prelude.py`.
pub fn prelude_item<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    defs(py)?
        .namespace
        .bind(py)
        .get_item(name)?
        .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err(format!("prelude lacks {name}")))
}

/// Calls the prelude's `name(*args)`.
pub fn call_prelude<'py>(py: Python<'py>, name: &str, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    prelude_item(py, name)?.call1(args)
}

/// `branch_enclosing_depth`: any int (0.0.47 does arithmetic on it), TypeError else.
pub fn depth_arg(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if !value.is_instance_of::<pyo3::types::PyInt>() {
        return Err(crate::util::type_error("branch_enclosing_depth", "an int", value));
    }
    // Beyond i64 the depth is past any limit either way.
    Ok(value.extract::<i64>().unwrap_or(if value.gt(0)? { i64::MAX } else { i64::MIN }))
}

/// The default of `branch_enclosing_depth`.
pub fn zero() -> Py<PyAny> {
    Python::attach(|py| 0i32.into_pyobject(py).map(|v| v.into_any().unbind()).unwrap_or_else(|never| match never {}))
}
