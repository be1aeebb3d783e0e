//! What one attempt at an action can end in, and the retry policy shared by the sync
//! and async paths (pystator 0.0.25's rules, messages and log levels).

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::results::Res;
use crate::spec::Job;
use crate::util::{display, is_exception, is_transient, log, log_exception, params_key};

/// How one attempt ended.
pub enum Outcome {
    /// The action ran: its ok or failed result.
    Result(Res),
    /// Something around the call raised (the context refused the params key, the
    /// action vanished between attempts, ...): pystator's `except Exception` branch.
    Raised(PyErr),
    /// The async attempt outlived `spec.timeout` (or, on pystator 0.0.47's keyword
    /// params path, the action raised TimeoutError).
    TimedOut,
    /// A result that ends the action whatever the retry rules say (pystator 0.0.47's
    /// keyword params path returns these at once, unlogged).
    Final(Res),
}

/// What to do after an attempt.
pub enum Next {
    Done(Res),
    Retry,
}

/// Applies the retry rules after attempt number `attempt` (0-based) of `job`:
/// successes and the last attempt end the action; permanent errors end it early
/// (logged at INFO); transient errors and timeouts are retried.
pub fn after_attempt(
    py: Python<'_>,
    job: &Job<'_, '_>,
    attempt: u64,
    outcome: Outcome,
    log_execution: bool,
) -> PyResult<Next> {
    let last = attempt >= job.retries;
    let name: &Bound<'_, PyString> = &job.name;
    match outcome {
        Outcome::Final(result) => Ok(Next::Done(result)),
        Outcome::Result(result) => {
            if result.ok() || last {
                return Ok(Next::Done(result));
            }
            if let Some(error) = result.error(py) {
                if !is_transient(&error) {
                    if log_execution {
                        log(
                            py,
                            "info",
                            PyTuple::new(
                                py,
                                [
                                    PyString::new(py, "Action '%s' failed with permanent error, skipping retries")
                                        .into_any(),
                                    name.clone().into_any(),
                                ],
                            )?,
                        )?;
                    }
                    return Ok(Next::Done(result));
                }
            }
            Ok(Next::Retry)
        }
        Outcome::Raised(err) => {
            let error = err.into_value(py).into_any();
            let bound = error.bind(py);
            if log_execution {
                log_exception(
                    py,
                    PyTuple::new(
                        py,
                        [
                            PyString::new(py, "Action '%s' raised exception: %s").into_any(),
                            name.clone().into_any(),
                            bound.clone(),
                        ],
                    )?,
                    bound,
                )?;
            }
            let transient = is_transient(bound);
            let result = Res::failed(name.clone().into_any().unbind(), error);
            if !transient || last {
                Ok(Next::Done(result))
            } else {
                Ok(Next::Retry)
            }
        }
        Outcome::TimedOut => {
            let timeout = job.timeout.as_deref().map(display).unwrap_or_else(|| "None".to_owned());
            let error = PyTimeoutError::new_err(format!("Action '{name}' timed out after {timeout}s"));
            let result = Res::failed(name.clone().into_any().unbind(), error.into_value(py).into_any());
            if last {
                Ok(Next::Done(result))
            } else {
                Ok(Next::Retry)
            }
        }
    }
}

/// The delay before attempt `attempt` (>= 1): `retry_backoff * 2**(attempt - 1)`,
/// computed with Python numbers so an int backoff gives int delays, as in pystator.
pub fn backoff_delay<'py>(py: Python<'py>, job: &Job<'_, 'py>, attempt: u64) -> PyResult<Bound<'py, PyAny>> {
    let factor = 2u64.into_pyobject(py)?.pow(attempt.saturating_sub(1), py.None())?;
    job.backoff.mul(factor)
}

/// Sets the params key for an attempt. Returns the error, if the context refuses.
pub fn set_params(ctx: &Bound<'_, PyAny>, params: &Bound<'_, PyAny>) -> Option<PyErr> {
    let py = ctx.py();
    let key = params_key(py);
    let result = match ctx.cast_exact::<PyDict>() {
        Ok(d) => d.set_item(key, params),
        Err(_) => ctx.set_item(key, params),
    };
    result.err()
}

/// `context.pop("_action_params", None)`.
pub fn pop_params(ctx: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = ctx.py();
    let key = params_key(py);
    match ctx.cast_exact::<PyDict>() {
        Ok(d) => {
            // One lookup: delete, and forgive the rare KeyError (the action removed it).
            // SAFETY: live dict and key.
            if unsafe { pyo3::ffi::PyDict_DelItem(d.as_ptr(), key.as_ptr()) } == 0 {
                return Ok(());
            }
            let err = PyErr::fetch(py);
            if err.is_instance_of::<pyo3::exceptions::PyKeyError>(py) {
                Ok(())
            } else {
                Err(err)
            }
        }
        Err(_) => ctx.call_method1(pyo3::intern!(py, "pop"), (key, py.None())).map(drop),
    }
}

/// The "finally: pop" of an attempt: a failing pop replaces the attempt's outcome
/// (as an exception raised in `finally` replaces the one in flight).
pub fn finish_params(
    py: Python<'_>,
    ctx: &Bound<'_, PyAny>,
    has_params: bool,
    outcome: PyResult<Outcome>,
) -> PyResult<Outcome> {
    if !has_params {
        return outcome;
    }
    match pop_params(ctx) {
        Ok(()) => outcome,
        Err(err) if is_exception(py, &err) => Ok(Outcome::Raised(err)),
        Err(err) => Err(err),
    }
}

/// `func(ctx, **params)`: the call of pystator 0.0.47's keyword params path.
pub fn call_with_kwargs<'py>(
    func: &Bound<'py, PyAny>,
    ctx: &Bound<'py, PyAny>,
    params: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = func.py();
    let kwargs = match params.cast_exact::<PyDict>() {
        Ok(d) => d.clone(),
        Err(_) => {
            let d = PyDict::new(py);
            d.update(params.cast::<pyo3::types::PyMapping>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "argument after ** must be a mapping, not {}",
                    crate::util::type_name(params)
                ))
            })?)?;
            d
        }
    };
    func.call((ctx,), Some(&kwargs))
}

/// TypeError for params given to an action whose signature takes no keyword arguments.
pub fn kwargs_refused(py: Python<'_>, name: &Bound<'_, PyString>) -> Res {
    let err = pyo3::exceptions::PyTypeError::new_err(format!(
        "Action '{name}' has params but its callable does not accept keyword arguments"
    ));
    Res::failed(name.clone().into_any().unbind(), err.into_value(py).into_any())
}
