//! `ActionResult` and `ExecutionResult`: mutable records that behave like the
//! dataclasses they replace (keyword/positional construction, assignment, `==`,
//! dataclass-style repr, pickle, copy).

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::defs::defs;
use crate::util::{datetime_from_us, now_us};

/// Compares two field lists the way tuple equality does (identity first, then `==`).
fn fields_equal(py: Python<'_>, a: &[&Py<PyAny>], b: &[&Py<PyAny>]) -> PyResult<bool> {
    for (x, y) in a.iter().zip(b.iter()) {
        if x.is(*y) {
            continue;
        }
        if !x.bind(py).eq(y.bind(py))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `Name(field=value!r, ...)`, with "..." for a recursive reference like
/// `dataclasses`' `recursive_repr`.
pub fn dataclass_repr(obj: &Bound<'_, PyAny>, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    // SAFETY: Py_ReprEnter/Leave bracket the repr of a live object.
    let entered = unsafe { ffi::Py_ReprEnter(obj.as_ptr()) };
    if entered != 0 {
        if entered < 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        return Ok("...".to_owned());
    }
    let result = (|| {
        let qualname = obj.get_type().qualname()?;
        let mut out = format!("{qualname}(");
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
            out.push('=');
            out.push_str(&value.repr()?.to_string());
        }
        out.push(')');
        Ok(out)
    })();
    // SAFETY: matches the Py_ReprEnter above.
    unsafe { ffi::Py_ReprLeave(obj.as_ptr()) };
    result
}

/// `(type(self), args)` or `(type(self), args, __dict__)` when instance attributes exist.
fn reduce_with_dict<'py>(slf: &Bound<'py, PyAny>, args: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyTuple>> {
    let py = slf.py();
    let cls = slf.get_type();
    if let Ok(state) = slf.getattr(intern!(py, "__dict__")) {
        if state.len().unwrap_or(0) > 0 {
            return PyTuple::new(py, [cls.into_any(), args.into_any(), state]);
        }
    }
    PyTuple::new(py, [cls.into_any(), args.into_any()])
}

/// Result of one action execution.
///
/// Attributes: success, action_name, result (the action's return value), error (the
/// exception when it failed), status (ActionStatus).
#[pyclass(name = "ActionResult", module = "ferrostator._core", subclass, weakref)]
pub struct ActionResult {
    #[pyo3(get)]
    pub success: Py<PyAny>,
    #[pyo3(get)]
    pub action_name: Py<PyAny>,
    #[pyo3(get)]
    pub result: Py<PyAny>,
    #[pyo3(get)]
    pub error: Py<PyAny>,
    #[pyo3(get)]
    pub status: Py<PyAny>,
}

/// Values that cannot take part in a reference cycle (CPython's rule for untracking
/// tuples and dicts), plus the status enum members, which live in their class.
fn is_atomic(py: Python<'_>, value: &Bound<'_, PyAny>) -> bool {
    use pyo3::types::{PyBool, PyFloat, PyInt};
    value.is_none()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || defs(py).is_ok_and(|d| {
            value.is(d.status_ok.bind(py)) || value.is(d.status_failed.bind(py)) || value.is(d.status_skipped.bind(py))
        })
}

/// Results that hold only atomic values are left out of the cyclic garbage
/// collector's lists (as CPython does for such tuples): streams that keep many
/// results alive then cost the collector almost nothing. Assigning a non-atomic value
/// to a field puts the result back under the collector's watch.
fn untrack_if_atomic(obj: &Bound<'_, ActionResult>) {
    let py = obj.py();
    let atomic = {
        let this = obj.borrow();
        this.field_refs().iter().all(|f| is_atomic(py, f.bind(py)))
    };
    if atomic {
        // SAFETY: untracking a live GC object; idempotent.
        unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    }
}

fn track_for(obj: &Bound<'_, ActionResult>, value: &Bound<'_, PyAny>) {
    // SAFETY: a live GC object; tracked at most once.
    unsafe {
        if !is_atomic(obj.py(), value) && ffi::PyObject_GC_IsTracked(obj.as_ptr()) == 0 {
            ffi::PyObject_GC_Track(obj.as_ptr().cast());
        }
    }
}

/// A result the core created, with its success known without borrowing the object.
pub struct Res {
    pub obj: Py<ActionResult>,
    pub ok: bool,
}

impl ActionResult {
    pub fn new_ok(py: Python<'_>, name: Py<PyAny>, result: Py<PyAny>) -> PyResult<Res> {
        let status = defs(py)?.status_ok.clone_ref(py);
        let obj = Py::new(
            py,
            Self {
                success: true.into_pyobject(py)?.to_owned().into_any().unbind(),
                action_name: name,
                result,
                error: py.None(),
                status,
            },
        )?;
        untrack_if_atomic(obj.bind(py));
        Ok(Res { obj, ok: true })
    }

    pub fn new_fail(py: Python<'_>, name: Py<PyAny>, error: Py<PyAny>) -> PyResult<Res> {
        let status = defs(py)?.status_failed.clone_ref(py);
        let obj = Py::new(
            py,
            Self {
                success: false.into_pyobject(py)?.to_owned().into_any().unbind(),
                action_name: name,
                result: py.None(),
                error,
                status,
            },
        )?;
        untrack_if_atomic(obj.bind(py));
        Ok(Res { obj, ok: false })
    }

    pub fn new_skipped(py: Python<'_>, name: Py<PyAny>, reason: Py<PyAny>) -> PyResult<Res> {
        let status = defs(py)?.status_skipped.clone_ref(py);
        let obj = Py::new(
            py,
            Self {
                success: true.into_pyobject(py)?.to_owned().into_any().unbind(),
                action_name: name,
                result: reason,
                error: py.None(),
                status,
            },
        )?;
        untrack_if_atomic(obj.bind(py));
        Ok(Res { obj, ok: true })
    }

    fn field_refs(&self) -> [&Py<PyAny>; 5] {
        [&self.success, &self.action_name, &self.result, &self.error, &self.status]
    }
}

/// Whether a result (ours or any object with a `success` attribute) succeeded.
pub fn result_succeeded(item: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(ours) = item.cast::<ActionResult>() {
        return ours.borrow().success.bind(item.py()).is_truthy();
    }
    item.getattr(intern!(item.py(), "success"))?.is_truthy()
}

/// The error of a result, if it is ours and failed.
pub fn result_error<'py>(item: &Bound<'py, ActionResult>) -> Option<Bound<'py, PyAny>> {
    let error = item.borrow().error.bind(item.py()).clone();
    (!error.is_none()).then_some(error)
}

#[pymethods]
impl ActionResult {
    #[new]
    #[pyo3(signature = (success, action_name, result = None, error = None, status = None))]
    fn py_new(
        py: Python<'_>,
        success: Py<PyAny>,
        action_name: Py<PyAny>,
        result: Option<Py<PyAny>>,
        error: Option<Py<PyAny>>,
        status: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        Ok(Self {
            success,
            action_name,
            result: result.unwrap_or_else(|| py.None()),
            error: error.unwrap_or_else(|| py.None()),
            status: match status {
                Some(status) => status,
                None => defs(py)?.status_ok.clone_ref(py),
            },
        })
    }

    /// A successful result carrying the action's return value.
    #[classmethod]
    #[pyo3(signature = (action_name, result = None))]
    fn ok(cls: &Bound<'_, PyType>, action_name: Py<PyAny>, result: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let result = result.unwrap_or_else(|| py.None());
        if cls.is(py.get_type::<ActionResult>()) {
            return Ok(Self::new_ok(py, action_name, result)?.obj.into_any());
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", true)?;
        kwargs.set_item("action_name", action_name)?;
        kwargs.set_item("result", result)?;
        kwargs.set_item("status", defs(py)?.status_ok.bind(py))?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    /// A failed result carrying the exception.
    #[classmethod]
    fn fail(cls: &Bound<'_, PyType>, action_name: Py<PyAny>, error: Py<PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        if cls.is(py.get_type::<ActionResult>()) {
            return Ok(Self::new_fail(py, action_name, error)?.obj.into_any());
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", false)?;
        kwargs.set_item("action_name", action_name)?;
        kwargs.set_item("error", error)?;
        kwargs.set_item("status", defs(py)?.status_failed.bind(py))?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    /// A skipped result; `result` holds the reason ("not_registered" by default).
    #[classmethod]
    #[pyo3(signature = (action_name, reason = None))]
    fn skipped(
        cls: &Bound<'_, PyType>,
        action_name: Py<PyAny>,
        reason: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let reason = match reason {
            Some(r) if r.is_truthy()? => r.unbind(),
            _ => PyString::new(py, "not_registered").into_any().unbind(),
        };
        if cls.is(py.get_type::<ActionResult>()) {
            return Ok(Self::new_skipped(py, action_name, reason)?.obj.into_any());
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", true)?;
        kwargs.set_item("action_name", action_name)?;
        kwargs.set_item("result", reason)?;
        kwargs.set_item("status", defs(py)?.status_skipped.bind(py))?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    #[setter]
    fn set_success(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        track_for(slf, &value);
        slf.borrow_mut().success = value.unbind();
    }

    #[setter]
    fn set_action_name(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        track_for(slf, &value);
        slf.borrow_mut().action_name = value.unbind();
    }

    #[setter]
    fn set_result(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        track_for(slf, &value);
        slf.borrow_mut().result = value.unbind();
    }

    #[setter]
    fn set_error(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        track_for(slf, &value);
        slf.borrow_mut().error = value.unbind();
    }

    #[setter]
    fn set_status(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        track_for(slf, &value);
        slf.borrow_mut().status = value.unbind();
    }

    /// True when the status is ActionStatus.SKIPPED.
    #[getter]
    fn is_skipped(&self, py: Python<'_>) -> PyResult<bool> {
        self.status.bind(py).eq(defs(py)?.status_skipped.bind(py))
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, ["success", "action_name", "result", "error", "status"])?.unbind())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.borrow();
        let fields = [
            ("success", this.success.bind(py).clone()),
            ("action_name", this.action_name.bind(py).clone()),
            ("result", this.result.bind(py).clone()),
            ("error", this.error.bind(py).clone()),
            ("status", this.status.bind(py).clone()),
        ];
        drop(this);
        dataclass_repr(slf.as_any(), &fields)
    }

    fn __richcmp__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) || !other.get_type().is(slf.get_type()) {
            return Ok(py.NotImplemented());
        }
        let other = other.cast::<ActionResult>()?;
        let (a, b) = (slf.borrow(), other.borrow());
        let (a_fields, b_fields) = (a.field_refs().map(|f| f.clone_ref(py)), b.field_refs().map(|f| f.clone_ref(py)));
        drop((a, b));
        let equal = fields_equal(py, &a_fields.each_ref(), &b_fields.each_ref())?;
        Ok((equal == matches!(op, CompareOp::Eq)).into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.borrow();
        let args = PyTuple::new(py, this.field_refs().map(|f| f.clone_ref(py)))?;
        drop(this);
        reduce_with_dict(slf.as_any(), args)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for field in self.field_refs() {
            visit.call(field)?;
        }
        Ok(())
    }
}

/// A timestamp field: taken as a number when we stamp it, built into a `datetime`
/// only when read (no per-result datetime objects on the hot path).
pub enum Stamp {
    Micros(i64),
    Object(Py<PyAny>),
}

impl Stamp {
    fn to_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self {
            Stamp::Micros(us) => Ok(datetime_from_us(py, *us)?.into_any().unbind()),
            Stamp::Object(obj) => Ok(obj.clone_ref(py)),
        }
    }

    fn from_object(py: Python<'_>, obj: Py<PyAny>) -> Self {
        let _ = py;
        Stamp::Object(obj)
    }
}

/// Result of executing all actions of a transition.
#[pyclass(name = "ExecutionResult", module = "ferrostator._core", subclass, weakref)]
pub struct ExecutionResult {
    #[pyo3(get, set)]
    pub transition_result: Py<PyAny>,
    #[pyo3(get, set)]
    pub action_results: Py<PyAny>,
    #[pyo3(get, set)]
    pub execution_mode: Py<PyAny>,
    pub started_at: Stamp,
    pub completed_at: Option<Stamp>,
}

impl ExecutionResult {
    /// A result stamped now, with an empty (or given) results list.
    pub fn start(
        py: Python<'_>,
        transition_result: Py<PyAny>,
        mode: Py<PyAny>,
        results: Option<Py<PyList>>,
    ) -> PyResult<Py<Self>> {
        Py::new(
            py,
            Self {
                transition_result,
                action_results: results.unwrap_or_else(|| PyList::empty(py).unbind()).into_any(),
                execution_mode: mode,
                started_at: Stamp::Micros(now_us()),
                completed_at: None,
            },
        )
    }

    /// A result for work that started at `started_us` and is complete now.
    pub fn finished(
        py: Python<'_>,
        transition_result: Py<PyAny>,
        mode: Py<PyAny>,
        results: Bound<'_, PyList>,
        started_us: i64,
    ) -> PyResult<Py<Self>> {
        Py::new(
            py,
            Self {
                transition_result,
                action_results: results.into_any().unbind(),
                execution_mode: mode,
                started_at: Stamp::Micros(started_us),
                completed_at: Some(Stamp::Micros(now_us())),
            },
        )
    }

    fn fields(&self, py: Python<'_>) -> PyResult<[Py<PyAny>; 5]> {
        Ok([
            self.transition_result.clone_ref(py),
            self.action_results.clone_ref(py),
            self.execution_mode.clone_ref(py),
            self.started_at.to_object(py)?,
            match &self.completed_at {
                Some(stamp) => stamp.to_object(py)?,
                None => py.None(),
            },
        ])
    }

    fn results_iter<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
        self.action_results.bind(py).try_iter()
    }

    fn names_where(&self, py: Python<'_>, succeeded: bool) -> PyResult<Py<PyList>> {
        let out = PyList::empty(py);
        for item in self.results_iter(py)? {
            let item = item?;
            if result_succeeded(&item)? == succeeded {
                let name = match item.cast::<ActionResult>() {
                    Ok(ours) => ours.borrow().action_name.bind(py).clone(),
                    Err(_) => item.getattr(intern!(py, "action_name"))?,
                };
                out.append(name)?;
            }
        }
        Ok(out.unbind())
    }
}

#[pymethods]
impl ExecutionResult {
    #[new]
    #[pyo3(signature = (transition_result, action_results = None, execution_mode = None, started_at = None, completed_at = None))]
    fn py_new(
        py: Python<'_>,
        transition_result: Py<PyAny>,
        action_results: Option<Py<PyAny>>,
        execution_mode: Option<Py<PyAny>>,
        started_at: Option<Py<PyAny>>,
        completed_at: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        Ok(Self {
            transition_result,
            action_results: action_results.unwrap_or_else(|| PyList::empty(py).into_any().unbind()),
            execution_mode: match execution_mode {
                Some(mode) => mode,
                None => defs(py)?.mode_sequential.clone_ref(py),
            },
            started_at: match started_at {
                Some(obj) => Stamp::from_object(py, obj),
                None => Stamp::Micros(now_us()),
            },
            completed_at: completed_at.map(|obj| Stamp::from_object(py, obj)),
        })
    }

    #[getter]
    fn started_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.started_at.to_object(py)
    }

    #[setter]
    fn set_started_at(&mut self, value: Py<PyAny>) {
        self.started_at = Stamp::Object(value);
    }

    #[getter]
    fn completed_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.completed_at {
            Some(stamp) => stamp.to_object(py),
            None => Ok(py.None()),
        }
    }

    #[setter]
    fn set_completed_at(&mut self, py: Python<'_>, value: Py<PyAny>) {
        self.completed_at = if value.is_none(py) { None } else { Some(Stamp::Object(value)) };
    }

    /// True when every action result succeeded (also when there are none).
    #[getter]
    fn all_succeeded(&self, py: Python<'_>) -> PyResult<bool> {
        for item in self.results_iter(py)? {
            if !result_succeeded(&item?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Names of the actions that failed, in execution order.
    #[getter]
    fn failed_actions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.names_where(py, false)
    }

    /// Names of the actions that succeeded (skipped ones included), in execution order.
    #[getter]
    fn succeeded_actions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.names_where(py, true)
    }

    /// Number of action results.
    #[getter]
    fn action_count(&self, py: Python<'_>) -> PyResult<usize> {
        self.action_results.bind(py).len()
    }

    /// Milliseconds between started_at and completed_at; None until completed.
    #[getter]
    fn duration_ms(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        match (&self.started_at, &self.completed_at) {
            (_, None) => Ok(None),
            (Stamp::Micros(start), Some(Stamp::Micros(end))) => Ok(Some((end - start) as f64 / 1e6 * 1000.0)),
            (start, Some(end)) => {
                let delta = end.to_object(py)?.bind(py).sub(start.to_object(py)?)?;
                let seconds: f64 = delta.call_method0(intern!(py, "total_seconds"))?.extract()?;
                Ok(Some(seconds * 1000.0))
            }
        }
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, ["transition_result", "action_results", "execution_mode", "started_at", "completed_at"])?
            .unbind())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let [tr, results, mode, started, completed] = slf.borrow().fields(py)?;
        let fields = [
            ("transition_result", tr.into_bound(py)),
            ("action_results", results.into_bound(py)),
            ("execution_mode", mode.into_bound(py)),
            ("started_at", started.into_bound(py)),
            ("completed_at", completed.into_bound(py)),
        ];
        dataclass_repr(slf.as_any(), &fields)
    }

    fn __richcmp__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) || !other.get_type().is(slf.get_type()) {
            return Ok(py.NotImplemented());
        }
        let a = slf.borrow().fields(py)?;
        let b = other.cast::<ExecutionResult>()?.borrow().fields(py)?;
        let equal = fields_equal(py, &a.each_ref(), &b.each_ref())?;
        Ok((equal == matches!(op, CompareOp::Eq)).into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, slf.borrow().fields(py)?)?;
        reduce_with_dict(slf.as_any(), args)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.transition_result)?;
        visit.call(&self.action_results)?;
        visit.call(&self.execution_mode)?;
        for stamp in [Some(&self.started_at), self.completed_at.as_ref()].into_iter().flatten() {
            if let Stamp::Object(obj) = stamp {
                visit.call(obj)?;
            }
        }
        Ok(())
    }
}

/// Marks an execution finished now.
pub fn complete(py: Python<'_>, er: &Py<ExecutionResult>) {
    er.borrow_mut(py).completed_at = Some(Stamp::Micros(now_us()));
}
