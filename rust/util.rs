//! Small helpers shared by the registry, the executor and the async driver.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyDict, PyString, PyTuple, PyTzInfo};
use pyo3::{ffi, intern};

use crate::defs::defs;

/// The context key under which an action finds its spec's params.
pub const ACTION_PARAMS_KEY: &str = "_action_params";

pub fn params_key(py: Python<'_>) -> &Bound<'_, PyString> {
    intern!(py, "_action_params")
}

/// Calls `func(arg)` through vectorcall, the cheapest call CPython offers.
#[inline]
pub fn call_one<'py>(func: &Bound<'py, PyAny>, arg: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = func.py();
    // SAFETY: both pointers are valid, attached objects; the result is a new reference
    // or NULL with an exception set, which `assume_owned_or_err` turns into a PyErr.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyObject_CallOneArg(func.as_ptr(), arg.as_ptr())) }
}

/// The bytes an action name is keyed by: its UTF-8 encoding (borrowed from the string
/// object when it is valid UTF-8; lone surrogates are kept with `surrogatepass`, so
/// every distinct str is a distinct key).
pub fn name_key<'a>(name: &'a Bound<'_, PyString>) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    match name.to_str() {
        Ok(text) => Ok(std::borrow::Cow::Borrowed(text.as_bytes())),
        Err(_) => {
            let encoded = name.call_method1(intern!(name.py(), "encode"), ("utf-8", "surrogatepass"))?;
            Ok(std::borrow::Cow::Owned(encoded.cast::<pyo3::types::PyBytes>()?.as_bytes().to_vec()))
        }
    }
}

#[cfg(all(Py_GIL_DISABLED, Py_3_14))]
extern "C" {
    fn PyUnstable_Object_EnableDeferredRefcount(op: *mut ffi::PyObject) -> std::os::raw::c_int;
}

/// Free-threaded builds: lets the interpreter call a registered action without
/// changing its reference count (deferred reference counting, as CPython does for
/// every module-level function). Every thread calls the same callables, and each
/// count change from a thread that does not own the object is an atomic operation on
/// a cache line the threads then fight over. The cost: once unregistered and
/// unreferenced, the callable is freed by the next garbage collection rather than at
/// once. A no-op elsewhere.
pub fn defer_refcount(obj: &Bound<'_, PyAny>) {
    #[cfg(all(Py_GIL_DISABLED, Py_3_14))]
    // SAFETY: a live object; the call is thread-safe, cannot fail, and does nothing
    // for objects the collector does not track.
    unsafe {
        PyUnstable_Object_EnableDeferredRefcount(obj.as_ptr());
    }
    let _ = obj;
}

/// Free-threaded builds: an exact `str` action name is interned (all interned
/// strings are immortal there), so that the results that name it change no reference
/// count every thread shares. Action names are few: they are registered. Elsewhere,
/// and for str subclasses, the name as given.
pub fn shared_name(name: Bound<'_, PyString>) -> Bound<'_, PyString> {
    #[cfg(Py_GIL_DISABLED)]
    if name.is_exact_instance_of::<PyString>() {
        let py = name.py();
        let mut ptr = name.into_ptr();
        // SAFETY: `ptr` is an owned reference to an exact str; InternInPlace replaces
        // it with an owned reference to the interned string.
        unsafe {
            ffi::PyUnicode_InternInPlace(&mut ptr);
            return Bound::from_owned_ptr(py, ptr).cast_into_unchecked();
        }
    }
    name
}

/// Python's `True` or `False`.
pub fn bool_object(py: Python<'_>, value: bool) -> Py<PyAny> {
    pyo3::types::PyBool::new(py, value).to_owned().into_any().unbind()
}

/// Compares two field lists the way tuple equality does (identity first, then `==`):
/// the `__eq__` of the dataclass-like types.
pub fn fields_equal(py: Python<'_>, a: &[Py<PyAny>], b: &[Py<PyAny>]) -> PyResult<bool> {
    for (x, y) in a.iter().zip(b) {
        if !x.is(y) && !x.bind(py).eq(y.bind(py))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A flag argument taken by truthiness, as Python code would (None when omitted).
pub fn truthy(value: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    value.map_or(Ok(false), |v| v.is_truthy())
}

/// Microseconds since the Unix epoch, floored like `datetime.now()`.
pub fn now_us() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An aware UTC `datetime` for a timestamp in microseconds, exact to the microsecond.
pub fn datetime_from_us(py: Python<'_>, us: i64) -> PyResult<Bound<'_, PyDateTime>> {
    let secs = us.div_euclid(1_000_000);
    let micro = us.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let year = i32::try_from(year).map_err(|_| PyRuntimeError::new_err("timestamp out of range"))?;
    let utc = PyTzInfo::utc(py)?;
    PyDateTime::new(
        py,
        year,
        month,
        day,
        (sod / 3600) as u8,
        ((sod % 3600) / 60) as u8,
        (sod % 60) as u8,
        micro,
        Some(&utc),
    )
}

/// Whether `obj` can be awaited (what `inspect.isawaitable` says, fast for the
/// common non-awaitable results).
pub fn is_awaitable(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    // SAFETY: reading the type's slot table of a live object.
    let has_await_slot = unsafe {
        let tp = ffi::Py_TYPE(obj.as_ptr());
        let async_slots = (*tp).tp_as_async;
        !async_slots.is_null() && (*async_slots).am_await.is_some()
    };
    if has_await_slot {
        return Ok(true);
    }
    // Generator-based coroutines (types.coroutine) have no await slot.
    // SAFETY: type check of a live object.
    if unsafe { ffi::PyGen_CheckExact(obj.as_ptr()) } != 0 {
        let py = obj.py();
        return defs(py)?.isawaitable.bind(py).call1((obj,))?.is_truthy();
    }
    Ok(false)
}

/// The iterator that `await obj` would drive.
pub fn await_iter<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: type checks of a live object.
    let is_native = unsafe { ffi::PyCoro_CheckExact(obj.as_ptr()) != 0 || ffi::PyGen_CheckExact(obj.as_ptr()) != 0 };
    if is_native {
        Ok(obj.clone())
    } else {
        obj.call_method0(intern!(obj.py(), "__await__"))
    }
}

/// Outcome of one resumption of an iterator driven like `yield from` does.
pub enum Sent<'py> {
    Yielded(Bound<'py, PyAny>),
    Returned(Bound<'py, PyAny>),
    Raised(PyErr),
}

/// Resumes `iter` with `value` (PyIter_Send: no StopIteration object is created).
pub fn send<'py>(iter: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> Sent<'py> {
    let py = iter.py();
    let mut out: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: valid pointers; PyIter_Send stores a new reference in `out` for
    // PYGEN_RETURN/PYGEN_NEXT and sets an exception for PYGEN_ERROR.
    let status = unsafe { ffi::PyIter_Send(iter.as_ptr(), value.as_ptr(), &mut out) };
    match status {
        ffi::PySendResult::PYGEN_NEXT => Sent::Yielded(unsafe { Bound::from_owned_ptr(py, out) }),
        ffi::PySendResult::PYGEN_RETURN => Sent::Returned(unsafe { Bound::from_owned_ptr(py, out) }),
        ffi::PySendResult::PYGEN_ERROR => Sent::Raised(
            PyErr::take(py).unwrap_or_else(|| PyRuntimeError::new_err("iterator failed without an exception")),
        ),
    }
}

/// Throws `exc` into `iter` the way `yield from` does: through its `throw` method
/// when it has one, otherwise by raising it at the delegation point.
pub fn throw<'py>(iter: &Bound<'py, PyAny>, exc: &Bound<'py, PyAny>) -> Sent<'py> {
    let py = iter.py();
    let method = match iter.getattr_opt(intern!(py, "throw")) {
        Ok(Some(method)) => method,
        Ok(None) => return Sent::Raised(PyErr::from_value(exc.clone())),
        Err(err) => return Sent::Raised(err),
    };
    match call_one(&method, exc) {
        Ok(value) => Sent::Yielded(value),
        Err(err) => stop_value(py, err),
    }
}

/// Turns a raised StopIteration into the iterator's return value.
pub fn stop_value(py: Python<'_>, err: PyErr) -> Sent<'_> {
    if err.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) {
        let value = err.value(py).getattr(intern!(py, "value")).unwrap_or_else(|_| py.None().into_bound(py));
        Sent::Returned(value)
    } else {
        Sent::Raised(err)
    }
}

/// Closes an awaitable's iterator if it can be closed (coroutines, generators).
pub fn close_iter(iter: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = iter.py();
    if let Some(close) = iter.getattr_opt(intern!(py, "close"))? {
        close.call0()?;
    }
    Ok(())
}

/// Whether a raised error is an `Exception` (becomes a failed result) rather than a
/// `BaseException` such as KeyboardInterrupt or CancelledError (propagates).
#[inline]
pub fn is_exception(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyException>(py)
}

/// `is_transient_error`: OSError and its subclasses (ConnectionError, TimeoutError).
#[inline]
pub fn is_transient(error: &Bound<'_, PyAny>) -> bool {
    if error.is_instance_of::<PyOSError>() {
        return true;
    }
    // Python 3.10: asyncio.TimeoutError is not yet the builtin TimeoutError.
    let py = error.py();
    py.version_info() < (3, 11)
        && defs(py)
            .and_then(|d| d.asyncio_module.bind(py).getattr(intern!(py, "TimeoutError")))
            .and_then(|t| error.is_instance(&t))
            .unwrap_or(false)
}

/// `ActionNotFoundError(message, action_name=name)`.
#[cold]
pub fn action_not_found(py: Python<'_>, message: String, name: &Bound<'_, PyAny>) -> PyErr {
    match defs(py) {
        Ok(d) => match d.action_not_found.bind(py).call1((message, name)) {
            Ok(err) => PyErr::from_value(err),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

/// The `str()` of an object for use in a message, without failing.
pub fn display(obj: &Bound<'_, PyAny>) -> String {
    obj.str().map(|s| s.to_string()).unwrap_or_else(|_| "<unprintable>".to_owned())
}

/// `type(obj).__name__`, as Python's and pystator's own messages name types.
pub fn short_type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// The type of `obj` as our messages name it: module-qualified
/// (`pystator.actions.ActionRegistry`), except builtins (`int`, `NoneType`), so that
/// two classes of the same name are told apart.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    let tp = obj.get_type();
    let qualname = tp.qualname().map(|n| n.to_string()).unwrap_or_else(|_| short_type_name(obj));
    match tp.module() {
        Ok(module) if module.to_str().is_ok_and(|m| m != "builtins") => format!("{module}.{qualname}"),
        _ => qualname,
    }
}

/// A TypeError naming what was expected and what came.
#[cold]
pub fn type_error(what: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, got {}", type_name(got)))
}

/// Logs through the actions logger (`ferrostator.actions`, or pystator's while
/// installed): `logger.<level>(fmt, *args)`.
pub fn log(py: Python<'_>, level: &str, args: Bound<'_, PyTuple>) -> PyResult<()> {
    defs(py)?.logger(py)?.call_method1(level, args)?;
    Ok(())
}

/// `logger.exception(fmt, *args, exc_info=error)` outside an `except` block.
pub fn log_exception(py: Python<'_>, args: Bound<'_, PyTuple>, error: &Bound<'_, PyAny>) -> PyResult<()> {
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "exc_info"), error)?;
    defs(py)?.logger(py)?.call_method(intern!(py, "exception"), args, Some(&kwargs))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
    }
}
