//! `ActionResult` and `ExecutionResult`: mutable records that behave like the
//! dataclasses they replace (keyword/positional construction, assignment, `==`,
//! dataclass-style repr, pickle, copy).

use std::sync::{Mutex, MutexGuard};

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::contract::Contract;
use crate::defs::defs;
use crate::util::{bool_object, datetime_from_us, fields_equal, now_us};

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

/// Locks a record's fields. No Python code runs while the lock is held (only
/// reference counts change), so it cannot deadlock or be re-entered; values that are
/// replaced are dropped after it is released.
fn lock<T>(fields: &Mutex<T>) -> MutexGuard<'_, T> {
    fields.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The five fields of an ActionResult.
pub struct ActionFields {
    pub success: Py<PyAny>,
    pub action_name: Py<PyAny>,
    pub result: Py<PyAny>,
    pub error: Py<PyAny>,
    pub status: Py<PyAny>,
}

impl ActionFields {
    fn refs(&self) -> [&Py<PyAny>; 5] {
        [&self.success, &self.action_name, &self.result, &self.error, &self.status]
    }
}

/// Result of one action execution.
///
/// Attributes: success, action_name, result (the action's return value), error (the
/// exception when it failed), status (ActionStatus). The fields are assignable, like
/// the dataclass this replaces; they sit behind a lock so that threads reading and
/// assigning the same result never see a torn or borrowed record.
#[pyclass(name = "ActionResult", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct ActionResult {
    fields: Mutex<ActionFields>,
}

/// A result the core made, not yet an object: an [`ActionResult`] is made of it only
/// when Python code is to see it ([`Res::into_object`]), so the results of a sync
/// `execute` stay small records until `action_results` is read.
pub struct Res {
    name: Py<PyAny>,
    /// The action's return value, the skip reason, or the error when it failed.
    value: Py<PyAny>,
    kind: Kind,
}

/// How an action ended. Word-sized, so that moving a `PyResult<Res>` around copies
/// whole words (a byte-sized tag made the compiler copy it with overlapping partial
/// loads and stores, which stall the CPU on the hot path).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Kind {
    Ok,
    Failed,
    Skipped,
}

impl Res {
    /// The ActionResult object. Results that hold only atomic values are left out of
    /// the cyclic collector's lists (see `untrack`); success and status are atomic by
    /// construction, so the value and the name (a str subclass may not be) decide.
    pub fn into_object(self, py: Python<'_>) -> PyResult<Py<ActionResult>> {
        let atomic = is_atomic(py, self.value.bind(py)) && is_atomic(py, self.name.bind(py));
        let defs = defs(py)?;
        let ok = self.ok();
        let (result, error, status) = match self.kind {
            Kind::Failed => (py.None(), self.value, &defs.status_failed),
            Kind::Ok => (self.value, py.None(), &defs.status_ok),
            Kind::Skipped => (self.value, py.None(), &defs.status_skipped),
        };
        let fields = ActionFields {
            success: bool_object(py, ok),
            action_name: self.name,
            result,
            error,
            status: status.clone_ref(py),
        };
        let obj = Py::new(py, ActionResult { fields: Mutex::new(fields) })?;
        if atomic {
            untrack(obj.bind(py));
        }
        Ok(obj)
    }

    pub fn succeeded(name: Py<PyAny>, result: Py<PyAny>) -> Res {
        Res { name, value: result, kind: Kind::Ok }
    }

    pub fn failed(name: Py<PyAny>, error: Py<PyAny>) -> Res {
        Res { name, value: error, kind: Kind::Failed }
    }

    pub fn skipped(name: Py<PyAny>, reason: Py<PyAny>) -> Res {
        Res { name, value: reason, kind: Kind::Skipped }
    }

    /// A result object (ours, pystator's, or any object with `action_name`, `status`,
    /// `result` and `error`) as a record: how 0.0.47's built-in actions report.
    pub fn from_object(obj: &Bound<'_, PyAny>) -> PyResult<Res> {
        let py = obj.py();
        let fields = match obj.cast::<ActionResult>() {
            Ok(ours) => ours.get().snapshot(py).map(|f| f.into_bound(py)),
            Err(_) => [
                obj.getattr(intern!(py, "success"))?,
                obj.getattr(intern!(py, "action_name"))?,
                obj.getattr(intern!(py, "result"))?,
                obj.getattr(intern!(py, "error"))?,
                obj.getattr(intern!(py, "status"))?,
            ],
        };
        let [_, name, result, error, status] = fields;
        let kind = if status.eq("failed")? {
            Kind::Failed
        } else if status.eq("skipped")? {
            Kind::Skipped
        } else {
            Kind::Ok
        };
        let value = if kind == Kind::Failed { error } else { result };
        Ok(Res { name: name.unbind(), value: value.unbind(), kind })
    }

    pub fn is_skipped(&self) -> bool {
        self.kind == Kind::Skipped
    }

    /// Whether the action succeeded (skipped counts as succeeded).
    pub fn ok(&self) -> bool {
        self.kind != Kind::Failed
    }

    /// The error, when the action failed.
    pub fn error<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        let error = self.value.bind(py);
        (!self.ok() && !error.is_none()).then(|| error.clone())
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.name)?;
        visit.call(&self.value)
    }

    fn clone_ref(&self, py: Python<'_>) -> Res {
        Res { name: self.name.clone_ref(py), value: self.value.clone_ref(py), kind: self.kind }
    }
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
fn untrack(obj: &Bound<'_, ActionResult>) {
    // SAFETY: untracking a live GC object; idempotent.
    unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
}

/// Puts the result under the collector's watch (a non-atomic value is being stored).
/// Called with the record's lock held: two threads assigning at once would otherwise
/// both see it untracked and both track it, which CPython treats as a fatal error.
fn track(obj: &Bound<'_, ActionResult>, _locked: &MutexGuard<'_, ActionFields>) {
    // SAFETY: a live GC object; the lock makes the check and the tracking one step.
    unsafe {
        if ffi::PyObject_GC_IsTracked(obj.as_ptr()) == 0 {
            ffi::PyObject_GC_Track(obj.as_ptr().cast());
        }
    }
}

impl ActionResult {
    /// The fields, in declaration order.
    pub fn snapshot(&self, py: Python<'_>) -> [Py<PyAny>; 5] {
        lock(&self.fields).refs().map(|f| f.clone_ref(py))
    }

    fn get_field(&self, py: Python<'_>, pick: fn(&ActionFields) -> &Py<PyAny>) -> Py<PyAny> {
        pick(&lock(&self.fields)).clone_ref(py)
    }

    fn set_field(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>, pick: fn(&mut ActionFields) -> &mut Py<PyAny>) {
        let atomic = is_atomic(slf.py(), &value);
        let mut fields = lock(&slf.get().fields);
        if !atomic {
            track(slf, &fields);
        }
        let old = std::mem::replace(pick(&mut fields), value.unbind());
        drop(fields);
        drop(old);
    }

    pub fn success(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |f| &f.success)
    }

    pub fn result(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |f| &f.result)
    }
}

/// Whether a result (ours or any object with a `success` attribute) succeeded.
pub fn result_succeeded(item: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = item.py();
    if let Ok(ours) = item.cast::<ActionResult>() {
        return ours.get().success(py).bind(py).is_truthy();
    }
    item.getattr(intern!(py, "success"))?.is_truthy()
}

#[pymethods]
impl ActionResult {
    #[new]
    #[pyo3(signature = (success, action_name, result = None, error = None, status = None))]
    #[pyo3(text_signature = "(success, action_name, result=None, error=None, status=ActionStatus.OK)")]
    fn py_new(
        py: Python<'_>,
        success: Py<PyAny>,
        action_name: Py<PyAny>,
        result: Option<Py<PyAny>>,
        error: Option<Py<PyAny>>,
        status: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let status = match status {
            Some(status) => status,
            None => defs(py)?.status_ok.clone_ref(py),
        };
        Ok(Self {
            fields: Mutex::new(ActionFields {
                success,
                action_name,
                result: result.unwrap_or_else(|| py.None()),
                error: error.unwrap_or_else(|| py.None()),
                status,
            }),
        })
    }

    /// A successful result carrying the action's return value.
    #[classmethod]
    #[pyo3(signature = (action_name, result = None))]
    fn ok(cls: &Bound<'_, PyType>, action_name: Py<PyAny>, result: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let result = result.unwrap_or_else(|| py.None());
        if cls.is(py.get_type::<ActionResult>()) {
            return Ok(Res::succeeded(action_name, result).into_object(py)?.into_any());
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
            return Ok(Res::failed(action_name, error).into_object(py)?.into_any());
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
            return Ok(Res::skipped(action_name, reason).into_object(py)?.into_any());
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", true)?;
        kwargs.set_item("action_name", action_name)?;
        kwargs.set_item("result", reason)?;
        kwargs.set_item("status", defs(py)?.status_skipped.bind(py))?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    /// Whether the action succeeded (skipped actions count as succeeded).
    #[getter(success)]
    fn py_success(&self, py: Python<'_>) -> Py<PyAny> {
        self.success(py)
    }

    #[setter(success)]
    fn set_success(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        Self::set_field(slf, value, |f| &mut f.success);
    }

    /// Name of the action.
    #[getter]
    fn action_name(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |f| &f.action_name)
    }

    #[setter]
    fn set_action_name(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        Self::set_field(slf, value, |f| &mut f.action_name);
    }

    /// The action's return value (the reason, for a skipped action).
    #[getter(result)]
    fn py_result(&self, py: Python<'_>) -> Py<PyAny> {
        self.result(py)
    }

    #[setter(result)]
    fn set_result(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        Self::set_field(slf, value, |f| &mut f.result);
    }

    /// The exception, when the action failed.
    #[getter]
    fn error(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |f| &f.error)
    }

    #[setter]
    fn set_error(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        Self::set_field(slf, value, |f| &mut f.error);
    }

    /// ActionStatus.OK, FAILED or SKIPPED.
    #[getter]
    fn status(&self, py: Python<'_>) -> Py<PyAny> {
        self.get_field(py, |f| &f.status)
    }

    #[setter]
    fn set_status(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) {
        Self::set_field(slf, value, |f| &mut f.status);
    }

    /// True when the status is ActionStatus.SKIPPED.
    #[getter]
    fn is_skipped(&self, py: Python<'_>) -> PyResult<bool> {
        self.status(py).bind(py).eq(defs(py)?.status_skipped.bind(py))
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, ["success", "action_name", "result", "error", "status"])?.unbind())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let [success, action_name, result, error, status] = slf.get().snapshot(py).map(|f| f.into_bound(py));
        let fields = [
            ("success", success),
            ("action_name", action_name),
            ("result", result),
            ("error", error),
            ("status", status),
        ];
        dataclass_repr(slf.as_any(), &fields)
    }

    fn __richcmp__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) || !other.get_type().is(slf.get_type()) {
            return Ok(py.NotImplemented());
        }
        if slf.is(other) {
            return Ok(bool_object(py, matches!(op, CompareOp::Eq)));
        }
        let other = other.cast::<ActionResult>()?;
        let equal = fields_equal(py, &slf.get().snapshot(py), &other.get().snapshot(py))?;
        Ok(bool_object(py, equal == matches!(op, CompareOp::Eq)))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, slf.get().snapshot(py))?;
        reduce_with_dict(slf.as_any(), args)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // try_lock: the collector must never wait (the lock is only ever held for
        // reference-count changes, so it is free whenever the collector runs).
        if let Ok(fields) = self.fields.try_lock() {
            for field in fields.refs() {
                visit.call(field)?;
            }
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

    fn clone_ref(&self, py: Python<'_>) -> Stamp {
        match self {
            Stamp::Micros(us) => Stamp::Micros(*us),
            Stamp::Object(obj) => Stamp::Object(obj.clone_ref(py)),
        }
    }
}

/// An ExecutionResult's `execution_mode`: the core's own modes are kept as a tag
/// (storing the enum member would change its reference count, which every thread
/// shares, once per execution), anything assigned as the object.
pub enum Mode {
    Sequential,
    Parallel,
    Phased,
    Object(Py<PyAny>),
}

impl Mode {
    fn to_object(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let defs = defs(py)?;
        Ok(match self {
            Mode::Sequential => defs.mode_sequential.clone_ref(py),
            Mode::Parallel => defs.mode_parallel.clone_ref(py),
            Mode::Phased => defs.mode_phased.clone_ref(py),
            Mode::Object(obj) => obj.clone_ref(py),
        })
    }

    fn clone_ref(&self, py: Python<'_>) -> Mode {
        match self {
            Mode::Sequential => Mode::Sequential,
            Mode::Parallel => Mode::Parallel,
            Mode::Phased => Mode::Phased,
            Mode::Object(obj) => Mode::Object(obj.clone_ref(py)),
        }
    }
}

/// An ExecutionResult's `action_results`.
pub enum Results {
    /// What the core's sync paths return: records, made into a list of ActionResult
    /// objects the first time Python code reads the list (the counts and names that
    /// ExecutionResult's own properties report are read from the records directly).
    Records(Vec<Res>),
    /// A list: made of the records, built by the async paths, or assigned.
    List(Py<PyAny>),
}

/// Which action names an ExecutionResult property lists.
#[derive(Clone, Copy)]
enum Pick {
    Failed,
    Succeeded,
    Skipped,
}

/// The fields of an ExecutionResult.
pub struct ExecutionFields {
    pub transition_result: Py<PyAny>,
    pub action_results: Results,
    pub execution_mode: Mode,
    pub started_at: Stamp,
    pub completed_at: Option<Stamp>,
}

/// Result of executing all actions of a transition.
#[pyclass(name = "ExecutionResult", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct ExecutionResult {
    fields: Mutex<ExecutionFields>,
    /// Whether skipped results count as succeeded, and the class made for it.
    contract: Contract,
}

impl ExecutionResult {
    fn create(py: Python<'_>, fields: ExecutionFields, contract: Contract) -> PyResult<Py<Self>> {
        let base = Self { fields: Mutex::new(fields), contract };
        match contract {
            Contract::Seed => Py::new(py, base),
            Contract::V47 => {
                let obj = Py::new(py, PyClassInitializer::from(base).add_subclass(ExecutionResult47))?;
                Ok(obj.into_bound(py).into_super().unbind())
            }
        }
    }

    /// A result stamped now, with an empty results list.
    pub fn start(py: Python<'_>, transition_result: Py<PyAny>, mode: Mode, contract: Contract) -> PyResult<Py<Self>> {
        Self::create(
            py,
            ExecutionFields {
                transition_result,
                action_results: Results::List(PyList::empty(py).into_any().unbind()),
                execution_mode: mode,
                started_at: Stamp::Micros(now_us()),
                completed_at: None,
            },
            contract,
        )
    }

    /// A result for work that started at `started_us` and is complete now.
    pub fn finished(
        py: Python<'_>,
        transition_result: Py<PyAny>,
        mode: Mode,
        results: Vec<Res>,
        started_us: i64,
        contract: Contract,
    ) -> PyResult<Py<Self>> {
        Self::create(
            py,
            ExecutionFields {
                transition_result,
                action_results: Results::Records(results),
                execution_mode: mode,
                started_at: Stamp::Micros(started_us),
                completed_at: Some(Stamp::Micros(now_us())),
            },
            contract,
        )
    }

    /// Stamps completion now.
    pub fn complete(&self) {
        let old = lock(&self.fields).completed_at.replace(Stamp::Micros(now_us()));
        drop(old);
    }

    /// Replaces the results (the value replaced is dropped after the lock).
    pub fn set_results(&self, results: Results) {
        let old = std::mem::replace(&mut lock(&self.fields).action_results, results);
        drop(old);
    }

    /// The results list, made of the records on first use. The ActionResults are built
    /// outside the lock (allocating may run the collector, and finalizers may run any
    /// Python code, this very object included); when another thread made or assigned
    /// a list meanwhile, that list wins and is returned.
    fn results_list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let records: Vec<Res> = match &lock(&self.fields).action_results {
            Results::List(list) => return Ok(list.clone_ref(py)),
            Results::Records(records) => records.iter().map(|r| r.clone_ref(py)).collect(),
        };
        let mut objects = Vec::with_capacity(records.len());
        for record in records {
            objects.push(record.into_object(py)?);
        }
        let list = PyList::new(py, objects)?.into_any().unbind();
        let mut fields = lock(&self.fields);
        let old = match &fields.action_results {
            Results::List(winner) => return Ok(winner.clone_ref(py)),
            Results::Records(_) => std::mem::replace(&mut fields.action_results, Results::List(list.clone_ref(py))),
        };
        drop(fields);
        drop(old);
        Ok(list)
    }

    /// `f` of the records, while there are records (`f` runs under the lock: it may
    /// only read them and clone references); None once there is a list.
    fn with_records<R>(&self, f: impl FnOnce(&[Res]) -> R) -> Option<R> {
        match &lock(&self.fields).action_results {
            Results::Records(records) => Some(f(records)),
            Results::List(_) => None,
        }
    }

    fn stamps(&self, py: Python<'_>) -> (Stamp, Option<Stamp>) {
        let fields = lock(&self.fields);
        (fields.started_at.clone_ref(py), fields.completed_at.as_ref().map(|s| s.clone_ref(py)))
    }

    /// The five fields as of one instant (read under one lock; the records are made
    /// into the list first, outside it).
    fn snapshot(&self, py: Python<'_>) -> PyResult<[Py<PyAny>; 5]> {
        loop {
            let fields = lock(&self.fields);
            if let Results::List(list) = &fields.action_results {
                let tr = fields.transition_result.clone_ref(py);
                let list = list.clone_ref(py);
                let mode = fields.execution_mode.clone_ref(py);
                let started = fields.started_at.clone_ref(py);
                let completed = fields.completed_at.as_ref().map(|s| s.clone_ref(py));
                drop(fields);
                let mode = mode.to_object(py)?;
                let completed = match completed {
                    Some(stamp) => stamp.to_object(py)?,
                    None => py.None(),
                };
                return Ok([tr, list, mode, started.to_object(py)?, completed]);
            }
            drop(fields);
            self.results_list(py)?;
        }
    }

    /// Whether a record is listed by `pick`.
    fn record_picked(&self, record: &Res, pick: Pick) -> bool {
        match pick {
            Pick::Failed => !record.ok(),
            Pick::Succeeded if self.contract.skipped_counts_as_succeeded() => record.ok(),
            Pick::Succeeded => record.ok() && !record.is_skipped(),
            Pick::Skipped => record.is_skipped(),
        }
    }

    /// Whether a result object is listed by `pick`.
    fn item_picked(&self, item: &Bound<'_, PyAny>, pick: Pick) -> PyResult<bool> {
        let py = item.py();
        let status = || -> PyResult<Bound<'_, PyAny>> {
            match item.cast::<ActionResult>() {
                Ok(ours) => Ok(ours.get().get_field(py, |f| &f.status).into_bound(py)),
                Err(_) => item.getattr(intern!(py, "status")),
            }
        };
        match pick {
            Pick::Failed => Ok(!result_succeeded(item)?),
            Pick::Succeeded if self.contract.skipped_counts_as_succeeded() => result_succeeded(item),
            Pick::Succeeded => status()?.eq(defs(py)?.status_ok.bind(py)),
            Pick::Skipped => status()?.eq(defs(py)?.status_skipped.bind(py)),
        }
    }

    fn names_where(&self, py: Python<'_>, pick: Pick) -> PyResult<Py<PyList>> {
        let from_records = self.with_records(|records| {
            records.iter().filter(|r| self.record_picked(r, pick)).map(|r| r.name.clone_ref(py)).collect::<Vec<_>>()
        });
        if let Some(names) = from_records {
            return Ok(PyList::new(py, names)?.unbind());
        }
        let out = PyList::empty(py);
        for item in self.results_list(py)?.bind(py).try_iter()? {
            let item = item?;
            if self.item_picked(&item, pick)? {
                let name = match item.cast::<ActionResult>() {
                    Ok(ours) => ours.get().action_name(py).into_bound(py),
                    Err(_) => item.getattr(intern!(py, "action_name"))?,
                };
                out.append(name)?;
            }
        }
        Ok(out.unbind())
    }

    /// The fields of a result constructed by Python code.
    fn build(
        py: Python<'_>,
        contract: Contract,
        transition_result: Py<PyAny>,
        action_results: Option<Py<PyAny>>,
        execution_mode: Option<Py<PyAny>>,
        started_at: Option<Py<PyAny>>,
        completed_at: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let execution_mode = match execution_mode {
            Some(mode) => Mode::Object(mode),
            None => Mode::Sequential,
        };
        Ok(Self {
            fields: Mutex::new(ExecutionFields {
                transition_result,
                action_results: Results::List(action_results.unwrap_or_else(|| PyList::empty(py).into_any().unbind())),
                execution_mode,
                started_at: match started_at {
                    Some(obj) => Stamp::Object(obj),
                    None => Stamp::Micros(now_us()),
                },
                completed_at: completed_at.map(Stamp::Object),
            }),
            contract,
        })
    }

    fn replace_with(&self, value: Py<PyAny>, pick: fn(&mut ExecutionFields) -> &mut Py<PyAny>) {
        let old = std::mem::replace(pick(&mut lock(&self.fields)), value);
        drop(old);
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
        Self::build(py, Contract::Seed, transition_result, action_results, execution_mode, started_at, completed_at)
    }

    /// The transition whose actions ran.
    #[getter]
    fn transition_result(&self, py: Python<'_>) -> Py<PyAny> {
        lock(&self.fields).transition_result.clone_ref(py)
    }

    #[setter]
    fn set_transition_result(&self, value: Py<PyAny>) {
        self.replace_with(value, |f| &mut f.transition_result);
    }

    /// The ActionResults, in execution order.
    #[getter]
    fn action_results(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.results_list(py)
    }

    #[setter]
    fn set_action_results(&self, value: Py<PyAny>) {
        self.set_results(Results::List(value));
    }

    /// The ExecutionMode used.
    #[getter]
    fn execution_mode(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mode = lock(&self.fields).execution_mode.clone_ref(py);
        mode.to_object(py)
    }

    #[setter]
    fn set_execution_mode(&self, value: Py<PyAny>) {
        let old = std::mem::replace(&mut lock(&self.fields).execution_mode, Mode::Object(value));
        drop(old);
    }

    /// When execution started (an aware UTC datetime).
    #[getter]
    fn started_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.stamps(py).0.to_object(py)
    }

    #[setter]
    fn set_started_at(&self, value: Py<PyAny>) {
        let old = std::mem::replace(&mut lock(&self.fields).started_at, Stamp::Object(value));
        drop(old);
    }

    /// When execution completed (an aware UTC datetime), or None.
    #[getter]
    fn completed_at(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.stamps(py).1 {
            Some(stamp) => stamp.to_object(py),
            None => Ok(py.None()),
        }
    }

    #[setter]
    fn set_completed_at(&self, py: Python<'_>, value: Py<PyAny>) {
        let new = if value.is_none(py) { None } else { Some(Stamp::Object(value)) };
        let old = std::mem::replace(&mut lock(&self.fields).completed_at, new);
        drop(old);
    }

    /// True when every action result succeeded (also when there are none); under
    /// pystator 0.0.47's contract a skipped action does not count as succeeded.
    #[getter]
    fn all_succeeded(&self, py: Python<'_>) -> PyResult<bool> {
        let pick = Pick::Succeeded;
        if let Some(all) = self.with_records(|records| records.iter().all(|r| self.record_picked(r, pick))) {
            return Ok(all);
        }
        for item in self.results_list(py)?.bind(py).try_iter()? {
            if !self.item_picked(&item?, pick)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Names of the actions that failed, in execution order.
    #[getter]
    fn failed_actions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.names_where(py, Pick::Failed)
    }

    /// Names of the actions that succeeded, in execution order (skipped ones
    /// included, except under pystator 0.0.47's contract).
    #[getter]
    fn succeeded_actions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.names_where(py, Pick::Succeeded)
    }

    /// Number of action results.
    #[getter]
    fn action_count(&self, py: Python<'_>) -> PyResult<usize> {
        if let Some(count) = self.with_records(|records| records.len()) {
            return Ok(count);
        }
        self.results_list(py)?.bind(py).len()
    }

    /// Milliseconds between started_at and completed_at; None until completed.
    #[getter]
    fn duration_ms(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        match self.stamps(py) {
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
        let [tr, results, mode, started, completed] = slf.get().snapshot(py)?.map(|f| f.into_bound(py));
        let fields = [
            ("transition_result", tr),
            ("action_results", results),
            ("execution_mode", mode),
            ("started_at", started),
            ("completed_at", completed),
        ];
        dataclass_repr(slf.as_any(), &fields)
    }

    fn __richcmp__(slf: &Bound<'_, Self>, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if !matches!(op, CompareOp::Eq | CompareOp::Ne) || !other.get_type().is(slf.get_type()) {
            return Ok(py.NotImplemented());
        }
        if slf.is(other) {
            return Ok(bool_object(py, matches!(op, CompareOp::Eq)));
        }
        let a = slf.get().snapshot(py)?;
        let b = other.cast::<ExecutionResult>()?.get().snapshot(py)?;
        let equal = fields_equal(py, &a, &b)?;
        Ok(bool_object(py, equal == matches!(op, CompareOp::Eq)))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, slf.get().snapshot(py)?)?;
        reduce_with_dict(slf.as_any(), args)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Ok(f) = self.fields.try_lock() {
            visit.call(&f.transition_result)?;
            match &f.action_results {
                Results::List(list) => visit.call(list)?,
                Results::Records(records) => {
                    for record in records {
                        record.traverse(&visit)?;
                    }
                }
            }
            if let Mode::Object(mode) = &f.execution_mode {
                visit.call(mode)?;
            }
            for stamp in [Some(&f.started_at), f.completed_at.as_ref()].into_iter().flatten() {
                if let Stamp::Object(obj) = stamp {
                    visit.call(obj)?;
                }
            }
        }
        Ok(())
    }
}

/// Result of executing all actions of a transition, pystator 0.0.47's contract
/// (`ferrostator.v47.ExecutionResult`): a skipped action is not a success.
#[pyclass(name = "ExecutionResult", module = "ferrostator.v47", extends = ExecutionResult, frozen, subclass)]
pub struct ExecutionResult47;

#[pymethods]
impl ExecutionResult47 {
    #[new]
    #[pyo3(signature = (transition_result, action_results = None, execution_mode = None, started_at = None, completed_at = None))]
    fn py_new(
        py: Python<'_>,
        transition_result: Py<PyAny>,
        action_results: Option<Py<PyAny>>,
        execution_mode: Option<Py<PyAny>>,
        started_at: Option<Py<PyAny>>,
        completed_at: Option<Py<PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let base = ExecutionResult::build(
            py,
            Contract::V47,
            transition_result,
            action_results,
            execution_mode,
            started_at,
            completed_at,
        )?;
        Ok(PyClassInitializer::from(base).add_subclass(ExecutionResult47))
    }

    /// Names of the actions that were skipped (not registered, or `when` false).
    #[getter]
    fn skipped_actions(slf: &Bound<'_, Self>) -> PyResult<Py<PyList>> {
        slf.as_super().get().names_where(slf.py(), Pick::Skipped)
    }
}

/// `action_results_to_payload(results)`: JSON-friendly rows, one per result, as
/// pystator 0.0.47's (`name`, `status`, `success`, `skipped`, then `error` as a
/// string and `result` when they are not None).
#[pyfunction]
pub fn action_results_to_payload<'py>(py: Python<'py>, results: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    let defs = defs(py)?;
    let skipped_status = defs.status_skipped.bind(py);
    let members = [defs.status_ok.bind(py), defs.status_failed.bind(py), skipped_status];
    for item in results.try_iter()? {
        let item = item?;
        // Our own results (the exact class: a subclass may override what is read) are
        // read in one snapshot; anything else with the same attributes through getattr.
        let (name, status, success, error, result, skipped) = match item.cast_exact::<ActionResult>() {
            Ok(ours) => {
                let [success, name, result, error, status] = ours.get().snapshot(py).map(|f| f.into_bound(py));
                // ActionResult.is_skipped is `status == ActionStatus.SKIPPED`.
                let skipped = status.is(skipped_status) || status.eq(skipped_status)?;
                (name, status, success, error, result, PyBool::new(py, skipped).to_owned().into_any())
            }
            Err(_) => {
                if item.cast::<ActionResult>().is_err() && !item.hasattr(intern!(py, "is_skipped"))? {
                    return Err(crate::util::type_error("action_results_to_payload item", "an ActionResult", &item));
                }
                (
                    item.getattr(intern!(py, "action_name"))?,
                    item.getattr(intern!(py, "status"))?,
                    item.getattr(intern!(py, "success"))?,
                    item.getattr(intern!(py, "error"))?,
                    item.getattr(intern!(py, "result"))?,
                    item.getattr(intern!(py, "is_skipped"))?,
                )
            }
        };
        // `status.value`, known by identity for the three members.
        let status_value = match members.iter().position(|m| status.is(*m)) {
            Some(i) => defs.status_values[i].bind(py).clone(),
            None => status.getattr(intern!(py, "value"))?,
        };
        let row = PyDict::new(py);
        row.set_item(intern!(py, "name"), name)?;
        row.set_item(intern!(py, "status"), status_value)?;
        row.set_item(intern!(py, "success"), success)?;
        row.set_item(intern!(py, "skipped"), skipped)?;
        if !error.is_none() {
            row.set_item(intern!(py, "error"), error.str()?)?;
        }
        if !result.is_none() {
            row.set_item(intern!(py, "result"), result)?;
        }
        out.append(row)?;
    }
    Ok(out)
}

/// Marks an execution finished now.
pub fn complete(py: Python<'_>, er: &Py<ExecutionResult>) {
    er.bind(py).get().complete();
}
