//! Declarative `_effect.<type>` actions: inline context mutations that need no
//! registered function (set, timestamp, increment, decrement, append, clear; pystator
//! 0.0.47's contract adds compute, and type checks for increment/decrement/append).
//!
//! Exact dicts take the C-API fast path; any other context object is driven through
//! its methods, so subclasses and mappings behave as their methods say.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};

use crate::contract::{call_prelude, Contract};
use crate::results::Res;
use crate::util::{datetime_from_us, is_exception, now_us};

/// `params[key]`; the key is an interned str (`intern!`), so that no string is made
/// (nor hashed) per effect.
fn field<'py>(params: &Bound<'py, PyAny>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
    params.get_item(key)
}

fn get_or<'py>(
    ctx: &Bound<'py, PyAny>,
    key: &Bound<'py, PyAny>,
    default: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    match ctx.cast_exact::<PyDict>() {
        Ok(d) => Ok(d.get_item(key)?.unwrap_or(default)),
        Err(_) => ctx.call_method1(intern!(ctx.py(), "get"), (key, default)),
    }
}

fn set_item(ctx: &Bound<'_, PyAny>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    ctx.set_item(key, value)
}

/// 0.0.47: the value increment/decrement works on, which must be a number (not a bool).
fn numeric_value<'py>(
    effect: &str,
    key: &Bound<'py, PyAny>,
    current: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    let py = current.py();
    let numeric = current.is_exact_instance_of::<PyInt>()
        || current.is_exact_instance_of::<PyFloat>()
        || (!current.is_instance_of::<PyBool>()
            && current.is_instance(&py.import(intern!(py, "numbers"))?.getattr(intern!(py, "Number"))?)?);
    if !numeric {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "Cannot {effect} field '{}': expected a numeric value, got {}",
            key.str()?,
            current.get_type().name()?
        )));
    }
    Ok(current)
}

/// Applies one effect to the context under `contract`. `Err` is the effect's error.
pub fn apply(effect: &str, params: &Bound<'_, PyAny>, ctx: &Bound<'_, PyAny>, contract: Contract) -> PyResult<()> {
    let py = ctx.py();
    let checked = contract.checks_effect_values();
    match effect {
        "set" => match (ctx.cast_exact::<PyDict>(), params.cast::<PyMapping>()) {
            (Ok(d), Ok(m)) => d.update(m),
            _ => ctx.call_method1(intern!(py, "update"), (params,)).map(drop),
        },
        "timestamp" => {
            let key = field(params, intern!(py, "field"))?;
            let stamp = datetime_from_us(py, now_us())?.call_method0(intern!(py, "isoformat"))?;
            set_item(ctx, &key, &stamp)
        }
        "increment" | "decrement" => {
            let key = field(params, intern!(py, "field"))?;
            let mut current = get_or(ctx, &key, 0i32.into_pyobject(py)?.into_any())?;
            if checked {
                current = numeric_value(effect, &key, current)?;
            }
            let next = if effect == "increment" { current.add(1)? } else { current.sub(1)? };
            set_item(ctx, &key, &next)
        }
        "append" => {
            let key = field(params, intern!(py, "field"))?;
            let list = match ctx.cast_exact::<PyDict>() {
                Ok(d) => match d.get_item(&key)? {
                    Some(existing) => existing,
                    None => {
                        let fresh = PyList::empty(py).into_any();
                        d.set_item(&key, &fresh)?;
                        fresh
                    }
                },
                Err(_) => ctx.call_method1(intern!(py, "setdefault"), (&key, PyList::empty(py)))?,
            };
            if checked && !list.is_instance_of::<PyList>() {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "Cannot append to field '{}': expected a list value, got {}",
                    key.str()?,
                    list.get_type().name()?
                )));
            }
            let append = list.getattr(intern!(py, "append"))?;
            append.call1((field(params, intern!(py, "value"))?,)).map(drop)
        }
        "clear" => {
            let key = field(params, intern!(py, "field"))?;
            match ctx.cast_exact::<PyDict>() {
                Ok(d) => {
                    if d.contains(&key)? {
                        d.del_item(&key)?;
                    }
                    Ok(())
                }
                Err(_) => ctx.call_method1(intern!(py, "pop"), (key, py.None())).map(drop),
            }
        }
        "compute" if contract.effect_types().contains(&"compute") => {
            if !crate::expr::_simpleeval_verified(py)? {
                return call_prelude(py, "_v47_compute", pyo3::types::PyTuple::new(py, [params, ctx])?).map(drop);
            }
            for item in params.call_method0(intern!(py, "items"))?.try_iter()? {
                let (key, expression): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
                match crate::expr::contract_value(py, contract, &expression, ctx)? {
                    Some(value) => ctx.set_item(key, value)?,
                    None => return Err(pyo3::exceptions::PyRuntimeError::new_err("simpleeval went away")),
                }
            }
            Ok(())
        }
        other => Err(pyo3::exceptions::PyValueError::new_err(format!("Unknown effect type: {other}"))),
    }
}

/// Runs `_effect.<type>` as an action: an ok result, a failed one carrying the
/// effect's Exception, or `Err` for a BaseException that must propagate.
pub fn run(
    py: Python<'_>,
    name: &Bound<'_, PyAny>,
    effect: &str,
    params: Option<&Bound<'_, PyAny>>,
    ctx: &Bound<'_, PyAny>,
    contract: Contract,
) -> PyResult<Res> {
    let empty;
    let params = match params {
        Some(p) => p,
        None => {
            empty = PyDict::new(py).into_any();
            &empty
        }
    };
    match apply(effect, params, ctx, contract) {
        Ok(()) => Ok(Res::succeeded(name.clone().unbind(), py.None())),
        Err(err) if is_exception(py, &err) => Ok(Res::failed(name.clone().unbind(), err.into_value(py).into_any())),
        Err(err) => Err(err),
    }
}

/// `ferrostator.v47.apply_effect(effect_type, params, ctx)`: applies a declarative
/// effect to a context, as pystator 0.0.47's `pystator.effects.apply_effect`.
#[pyfunction]
pub fn apply_effect(effect_type: &Bound<'_, PyAny>, params: &Bound<'_, PyAny>, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
    let effect = effect_type.str()?;
    apply(effect.to_str()?, params, ctx, Contract::V47)
}
