//! `ActionSpec` and `TransitionResult` (frozen value types), and spec resolution:
//! turning a spec — ours, pystator's, or any object with the same attributes — into a
//! [`Job`]: what to call, with which params, retries and timeout.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::contract::{call_prelude, Contract};
use crate::results::dataclass_repr;
use crate::util::{bool_object, display, fields_equal, name_key, shared_name, short_type_name, type_error, type_name};

/// The `when` of a 0.0.47 config dict: a string as is, a dict as pystator's CheckSpec,
/// anything else None (as 0.0.47 does).
fn config_when<'py>(config: &Bound<'py, PyDict>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = config.py();
    match config.get_item("when")? {
        Some(w) if w.is_instance_of::<PyString>() => Ok(Some(w)),
        Some(w) if w.is_instance_of::<PyDict>() => {
            Ok(Some(call_prelude(py, "_v47_check_spec", PyTuple::new(py, [w])?)?))
        }
        _ => Ok(None),
    }
}

/// Prefix of the synthetic action names that carry declarative effects.
pub const EFFECT_PREFIX: &str = "_effect.";

static FROZEN_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn frozen_error(py: Python<'_>, field: &str) -> PyErr {
    match FROZEN_ERROR.import(py, "dataclasses", "FrozenInstanceError") {
        Ok(cls) => match cls.call1((format!("cannot assign to field '{field}'"),)) {
            Ok(err) => PyErr::from_value(err),
            Err(err) => err,
        },
        Err(err) => err,
    }
}

/// Validates a real number field: an int or a float that is not NaN. Negative and
/// infinite values are accepted as pystator accepts them (a negative backoff fails
/// only when a retry sleeps, with Python's own message).
fn check_number(what: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if value.is_instance_of::<pyo3::types::PyBool>()
        || !(value.is_instance_of::<PyInt>() || value.is_instance_of::<PyFloat>())
    {
        return Err(type_error(what, "an int or float", value));
    }
    if value.is_instance_of::<PyFloat>() && value.extract::<f64>()?.is_nan() {
        return Err(PyValueError::new_err(format!("{what} must not be NaN")));
    }
    Ok(())
}

fn check_retry(what: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if !value.is_instance_of::<PyInt>() {
        return Err(type_error(what, "an int", value));
    }
    if let Ok(count) = value.extract::<i64>() {
        return Ok(u64::try_from(count).unwrap_or(0));
    }
    // Negative counts mean "no retries", like pystator's max(retry, 0); counts beyond
    // u64 are as good as infinite.
    if value.lt(0)? {
        return Ok(0);
    }
    Ok(value.extract::<u64>().unwrap_or(u64::MAX))
}

fn default_retry() -> Py<PyAny> {
    Python::attach(|py| 0i32.into_pyobject(py).map(|v| v.into_any().unbind()).unwrap_or_else(|never| match never {}))
}

fn default_backoff() -> Py<PyAny> {
    Python::attach(|py| PyFloat::new(py, 1.0).into_any().unbind())
}

/// Action specification: a named function, a parameterized action, or a declarative
/// effect (`name` is then `_effect.<type>` and `params` holds the effect data).
#[pyclass(name = "ActionSpec", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct ActionSpec {
    #[pyo3(get)]
    pub name: Py<PyString>,
    #[pyo3(get)]
    pub params: Py<PyAny>,
    #[pyo3(get)]
    pub effect: Py<PyAny>,
    #[pyo3(get)]
    pub timeout: Py<PyAny>,
    #[pyo3(get)]
    pub retry: Py<PyAny>,
    #[pyo3(get)]
    pub retry_backoff: Py<PyAny>,
    /// pystator 0.0.47's condition (None: always run; always None for the seed contract).
    pub when: Py<PyAny>,
    /// pystator 0.0.47's `custom` flag (False for the seed contract).
    pub custom: Py<PyAny>,
    /// The contract of the class the spec was made by (its fields, repr and equality).
    pub contract: Contract,
    /// `max(retry, 0)`, resolved once.
    pub retries: u64,
    /// The registry key of `name`, computed once.
    pub key: Box<[u8]>,
    /// Where `key` was last found in a registry table (see `Snapshot::get_remembered`).
    pub remembered: AtomicU64,
}

const SPEC_FIELDS: [&str; 8] = ["name", "params", "effect", "timeout", "retry", "retry_backoff", "when", "custom"];

impl ActionSpec {
    /// The dataclass fields of the spec's contract (0.0.47 adds `when` and `custom`).
    fn field_names(&self) -> &'static [&'static str] {
        if self.contract.has_when() {
            &SPEC_FIELDS
        } else {
            &SPEC_FIELDS[..6]
        }
    }

    fn fields(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        let mut fields = vec![
            self.name.clone_ref(py).into_any(),
            self.params.clone_ref(py),
            self.effect.clone_ref(py),
            self.timeout.clone_ref(py),
            self.retry.clone_ref(py),
            self.retry_backoff.clone_ref(py),
        ];
        if self.contract.has_when() {
            fields.push(self.when.clone_ref(py));
            fields.push(self.custom.clone_ref(py));
        }
        fields
    }

    /// Validates the fields and builds a spec of `contract`.
    #[allow(clippy::too_many_arguments)]
    fn build(
        py: Python<'_>,
        contract: Contract,
        name: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        effect: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        retry: Py<PyAny>,
        retry_backoff: Py<PyAny>,
        when: Option<Py<PyAny>>,
        custom: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let retry = retry.into_bound(py);
        let retry_backoff = retry_backoff.into_bound(py);
        let name = match name {
            None => PyString::new(py, ""),
            Some(n) => {
                n.cast_into::<PyString>().map_err(|e| type_error("ActionSpec.name", "a str", &e.into_inner()))?
            }
        };
        let name = shared_name(name);
        let params = match params {
            None => PyDict::new(py).into_any(),
            Some(p) if p.is_instance_of::<PyDict>() || p.cast::<PyMapping>().is_ok() => p,
            Some(p) => return Err(type_error("ActionSpec.params", "a dict", &p)),
        };
        if let Some(e) = &effect {
            if !e.is_instance_of::<PyString>() {
                return Err(type_error("ActionSpec.effect", "a str or None", e));
            }
        }
        if let Some(t) = &timeout {
            check_number("ActionSpec.timeout", t)?;
        }
        let retries = check_retry("ActionSpec.retry", &retry)?;
        check_number("ActionSpec.retry_backoff", &retry_backoff)?;
        let has_effect = match &effect {
            Some(e) => e.is_truthy()?,
            None => false,
        };
        if name.is_empty()? && !has_effect {
            return Err(PyValueError::new_err("ActionSpec must have a 'name' or 'effect'"));
        }
        Ok(Self {
            key: name_key(&name)?.into(),
            remembered: AtomicU64::new(0),
            name: name.unbind(),
            params: params.unbind(),
            effect: effect.map_or_else(|| py.None(), Bound::unbind),
            timeout: timeout.map_or_else(|| py.None(), Bound::unbind),
            retry: retry.unbind(),
            retry_backoff: retry_backoff.unbind(),
            when: when.unwrap_or_else(|| py.None()),
            custom: custom.unwrap_or_else(|| bool_object(py, false)),
            contract,
            retries,
        })
    }
}

#[pymethods]
impl ActionSpec {
    #[new]
    #[pyo3(signature = (name = None, params = None, effect = None, timeout = None, retry = default_retry(), retry_backoff = default_backoff()))]
    #[pyo3(text_signature = "(name='', params=None, effect=None, timeout=None, retry=0, retry_backoff=1.0)")]
    fn py_new(
        py: Python<'_>,
        name: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        effect: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        retry: Py<PyAny>,
        retry_backoff: Py<PyAny>,
    ) -> PyResult<Self> {
        Self::build(py, Contract::Seed, name, params, effect, timeout, retry, retry_backoff, None, None)
    }

    /// True if this is a declarative effect (not a named function).
    #[getter]
    fn is_effect(&self, py: Python<'_>) -> bool {
        !self.effect.is_none(py)
    }

    /// True if this action has parameters.
    #[getter]
    fn has_params(&self, py: Python<'_>) -> PyResult<bool> {
        self.params.bind(py).is_truthy()
    }

    /// Create from config: a string name, a dict with name (+params, timeout, retry,
    /// retry_backoff), or an effect dict such as `{"increment": "count"}`.
    #[classmethod]
    fn from_config(cls: &Bound<'_, PyType>, config: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        if config.is_instance_of::<PyString>() {
            return make_spec(cls, &[("name", config.clone())]);
        }
        if let Ok(config) = config.cast::<PyDict>() {
            let common = Common::read(config, None)?;
            if let Some(name) = config.get_item("name")? {
                let params = config.get_item("params")?.unwrap_or_else(|| PyDict::new(py).into_any());
                return common.make(cls, name, params, &[]);
            }
            for effect in Contract::Seed.effect_types() {
                if let Some(value) = config.get_item(effect)? {
                    return common.effect(cls, effect, &value);
                }
            }
        }
        Err(PyValueError::new_err(format!("Invalid action config: {}", display(config))))
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, ["name", "params", "effect", "timeout", "retry", "retry_backoff"])?.unbind())
    }

    fn __setattr__(&self, py: Python<'_>, name: &str, _value: Py<PyAny>) -> PyResult<()> {
        Err(frozen_error(py, name))
    }

    fn __delattr__(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        Err(frozen_error(py, name))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let spec = slf.get();
        let fields: Vec<(&str, Bound<'_, PyAny>)> =
            spec.field_names().iter().copied().zip(spec.fields(py).into_iter().map(|v| v.into_bound(py))).collect();
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
        let other = other.cast::<ActionSpec>()?;
        let equal = fields_equal(py, &slf.get().fields(py), &other.get().fields(py))?;
        Ok(bool_object(py, equal == matches!(op, CompareOp::Eq)))
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        PyTuple::new(slf.py(), slf.get().fields(slf.py()))?.hash()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, slf.get().fields(py))?;
        PyTuple::new(py, [slf.get_type().into_any(), args.into_any()])
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.params)?;
        visit.call(&self.effect)?;
        visit.call(&self.timeout)?;
        visit.call(&self.retry)?;
        visit.call(&self.retry_backoff)?;
        visit.call(&self.when)?;
        visit.call(&self.custom)?;
        Ok(())
    }

    /// `copy.replace(spec, **changes)` (Python 3.13+).
    #[pyo3(signature = (**changes))]
    fn __replace__(slf: &Bound<'_, Self>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        replace_fields(slf.as_any(), slf.get().field_names(), &slf.get().fields(py), changes)
    }
}

/// Action specification of pystator 0.0.47's contract (`ferrostator.v47.ActionSpec`):
/// the seed's fields plus `when` (a condition checked before the action runs: an
/// expression string or a check) and `custom` (declared with the `custom:` form).
#[pyclass(name = "ActionSpec", module = "ferrostator.v47", extends = ActionSpec, frozen, subclass)]
pub struct ActionSpec47;

/// `cls(**kwargs)` for `from_config`.
fn make_spec(cls: &Bound<'_, PyType>, kwargs: &[(&str, Bound<'_, PyAny>)]) -> PyResult<Py<PyAny>> {
    let dict = PyDict::new(cls.py());
    for (key, value) in kwargs {
        dict.set_item(key, value)?;
    }
    Ok(cls.call((), Some(&dict))?.unbind())
}

/// The fields every `from_config` form carries besides its name and params: the config's
/// `timeout` (default None), `retry` (0), `retry_backoff` (1.0) and, in 0.0.47's
/// contract, `when` (the seed's ActionSpec takes no `when`).
#[derive(Clone)]
struct Common<'py> {
    timeout: Bound<'py, PyAny>,
    retry: Bound<'py, PyAny>,
    retry_backoff: Bound<'py, PyAny>,
    when: Option<Bound<'py, PyAny>>,
}

impl<'py> Common<'py> {
    fn read(config: &Bound<'py, PyDict>, when: Option<Bound<'py, PyAny>>) -> PyResult<Self> {
        let py = config.py();
        Ok(Self {
            timeout: config.get_item("timeout")?.unwrap_or_else(|| py.None().into_bound(py)),
            retry: config.get_item("retry")?.map_or_else(|| 0i32.into_pyobject(py).map(Bound::into_any), Ok)?,
            retry_backoff: config.get_item("retry_backoff")?.unwrap_or_else(|| PyFloat::new(py, 1.0).into_any()),
            when,
        })
    }

    /// `cls(name=name, params=params, <these fields>, <extra>)`.
    fn make(
        &self,
        cls: &Bound<'py, PyType>,
        name: Bound<'py, PyAny>,
        params: Bound<'py, PyAny>,
        extra: &[(&str, Bound<'py, PyAny>)],
    ) -> PyResult<Py<PyAny>> {
        let mut kwargs = vec![
            ("name", name),
            ("params", params),
            ("timeout", self.timeout.clone()),
            ("retry", self.retry.clone()),
            ("retry_backoff", self.retry_backoff.clone()),
        ];
        kwargs.extend(self.when.iter().map(|when| ("when", when.clone())));
        kwargs.extend_from_slice(extra);
        make_spec(cls, &kwargs)
    }

    /// The spec of a declarative effect (`{"increment": "count"}`).
    fn effect(&self, cls: &Bound<'py, PyType>, effect: &str, value: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let name = PyString::new(py, &format!("{EFFECT_PREFIX}{effect}")).into_any();
        let params = normalize_effect_params(effect, value)?.into_any();
        self.make(cls, name, params, &[("effect", PyString::new(py, effect).into_any())])
    }
}

#[pymethods]
impl ActionSpec47 {
    #[new]
    #[pyo3(signature = (name = None, params = None, effect = None, timeout = None, retry = default_retry(), retry_backoff = default_backoff(), when = None, custom = None))]
    #[pyo3(
        text_signature = "(name='', params=None, effect=None, timeout=None, retry=0, retry_backoff=1.0, when=None, custom=False)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        name: Option<Bound<'_, PyAny>>,
        params: Option<Bound<'_, PyAny>>,
        effect: Option<Bound<'_, PyAny>>,
        timeout: Option<Bound<'_, PyAny>>,
        retry: Py<PyAny>,
        retry_backoff: Py<PyAny>,
        when: Option<Py<PyAny>>,
        custom: Option<Py<PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let spec =
            ActionSpec::build(py, Contract::V47, name, params, effect, timeout, retry, retry_backoff, when, custom)?;
        Ok(PyClassInitializer::from(spec).add_subclass(ActionSpec47))
    }

    /// The condition checked before the action runs (an expression string or a
    /// CheckSpec), or None.
    #[getter]
    fn when(slf: &Bound<'_, Self>) -> Py<PyAny> {
        slf.as_super().get().when.clone_ref(slf.py())
    }

    /// True when the action was declared with the explicit `custom:` form.
    #[getter]
    fn custom(slf: &Bound<'_, Self>) -> Py<PyAny> {
        slf.as_super().get().custom.clone_ref(slf.py())
    }

    /// True if this action was declared with the explicit `custom:` form.
    #[getter]
    fn is_custom(slf: &Bound<'_, Self>) -> Py<PyAny> {
        Self::custom(slf)
    }

    /// Create from config (pystator 0.0.47's forms): a string name; a dict with
    /// `custom`, `name` (+params), `http`, `branch`, `code`, or an effect (`set`,
    /// `timestamp`, `increment`, `decrement`, `append`, `clear`, `compute`), looked for
    /// in that order; each may carry `when`, `timeout`, `retry`, `retry_backoff`.
    #[classmethod]
    fn from_config<'py>(cls: &Bound<'py, PyType>, config: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        if config.is_instance_of::<PyString>() {
            return make_spec(cls, &[("name", config.clone())]);
        }
        if let Ok(config) = config.cast::<PyDict>() {
            let common = Common::read(config, Some(config_when(config)?.unwrap_or_else(|| py.None().into_bound(py))))?;
            let builtin = |name: &str| PyString::new(py, name).into_any();
            if let Some(custom) = config.get_item("custom")? {
                let Ok(custom) = custom.cast::<PyDict>() else {
                    return Err(PyValueError::new_err(format!(
                        "custom action requires a mapping, got {}",
                        config.repr()?
                    )));
                };
                let name = match custom.get_item("name")? {
                    Some(n) if n.is_instance_of::<PyString>() && n.call_method0("strip")?.is_truthy()? => n,
                    _ => return Err(PyValueError::new_err("custom action requires non-empty name")),
                };
                let params = match custom.get_item("params")? {
                    None => PyDict::new(py).into_any(),
                    Some(p) if p.is_none() => PyDict::new(py).into_any(),
                    Some(p) if p.is_instance_of::<PyDict>() => p,
                    Some(_) => return Err(PyValueError::new_err("custom action params must be a mapping")),
                };
                return common.make(cls, name, params, &[("custom", bool_object(py, true).into_bound(py))]);
            }
            if let Some(name) = config.get_item("name")? {
                let params = config.get_item("params")?.unwrap_or_else(|| PyDict::new(py).into_any());
                return common.make(cls, name, params, &[]);
            }
            if let Some(http) = config.get_item("http")? {
                // pystator 0.0.47 fails here with AttributeError on a non-mapping.
                if http.cast::<PyMapping>().is_err() {
                    return Err(PyValueError::new_err(format!(
                        "http action requires a mapping, got {}",
                        config.repr()?
                    )));
                }
                // The config's own timeout/retry/retry_backoff, else the http mapping's.
                let http_get = |key: &str, default: &Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
                    match config.get_item(key)? {
                        Some(v) => Ok(v),
                        None => http.call_method1(intern!(py, "get"), (key, default)),
                    }
                };
                let common = Common {
                    timeout: http_get("timeout", &py.None().into_bound(py))?,
                    retry: http_get("retry", &0i32.into_pyobject(py)?.into_any())?,
                    retry_backoff: http_get("retry_backoff", &PyFloat::new(py, 1.0).into_any())?,
                    ..common
                };
                return common.make(cls, builtin("_http"), http, &[]);
            }
            if let Some(branch) = config.get_item("branch")? {
                let Ok(branch) = branch.cast::<PyDict>() else {
                    return Err(PyValueError::new_err(format!(
                        "branch action requires a mapping, got {}",
                        config.repr()?
                    )));
                };
                let params = PyDict::new(py);
                params.set_item("when", branch.get_item("when")?)?;
                for key in ["then", "else"] {
                    let steps = match branch.get_item(key)? {
                        Some(v) if v.is_truthy()? => v,
                        _ => PyList::empty(py).into_any(),
                    };
                    params.set_item(key, steps)?;
                }
                return common.make(cls, builtin("_branch"), params.into_any(), &[]);
            }
            if let Some(code) = config.get_item("code")? {
                let params = if code.is_instance_of::<PyString>() {
                    let params = PyDict::new(py);
                    params.set_item("source", &code)?;
                    params
                } else if let Ok(code) = code.cast::<PyDict>() {
                    code.copy()?
                } else {
                    return Err(PyValueError::new_err(format!(
                        "code action must be str or dict, got {}",
                        config.repr()?
                    )));
                };
                // A falsy config timeout/retry gives way to the code mapping's.
                let zero = 0i32.into_pyobject(py)?.into_any();
                let timeout = if common.timeout.is_truthy()? {
                    common.timeout.clone()
                } else {
                    params.get_item("timeout")?.unwrap_or_else(|| py.None().into_bound(py))
                };
                let retry = if common.retry.is_truthy()? {
                    common.retry.clone()
                } else {
                    let raw = params.get_item("retry")?.unwrap_or_else(|| zero.clone());
                    let raw = if raw.is_truthy()? { raw } else { zero };
                    py.get_type::<PyInt>().call1((raw,))?
                };
                let common = Common { timeout, retry, ..common };
                return common.make(cls, builtin("_code"), params.into_any(), &[]);
            }
            for effect in Contract::V47.effect_types() {
                if let Some(value) = config.get_item(effect)? {
                    return common.effect(cls, effect, &value);
                }
            }
        }
        Err(PyValueError::new_err(format!("Invalid action config: {}", display(config))))
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, SPEC_FIELDS)?.unbind())
    }
}

fn replace_fields(
    slf: &Bound<'_, PyAny>,
    names: &[&str],
    values: &[Py<PyAny>],
    changes: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let kwargs = PyDict::new(py);
    for (name, value) in names.iter().zip(values) {
        kwargs.set_item(name, value)?;
    }
    if let Some(changes) = changes {
        for key in changes.keys() {
            let key = key.cast_into::<PyString>()?;
            if !names.contains(&key.to_str()?) {
                return Err(PyTypeError::new_err(format!("__replace__() got an unexpected keyword argument '{key}'")));
            }
        }
        kwargs.update(changes.as_mapping())?;
    }
    Ok(slf.get_type().call((), Some(&kwargs))?.unbind())
}

/// Normalizes an effect's config value into its params dict (pystator's rules and
/// messages).
fn normalize_effect_params<'py>(effect: &str, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let py = value.py();
    match effect {
        "set" => match value.cast::<PyDict>() {
            Ok(mapping) => mapping.copy(),
            Err(_) => {
                Err(PyValueError::new_err(format!("'set' effect requires a mapping, got {}", short_type_name(value))))
            }
        },
        "timestamp" | "increment" | "decrement" | "clear" => {
            if !value.is_instance_of::<PyString>() {
                return Err(PyValueError::new_err(format!("'{effect}' effect requires a field name (string)")));
            }
            let params = PyDict::new(py);
            params.set_item("field", value)?;
            Ok(params)
        }
        "append" => match value.cast::<PyDict>() {
            Ok(mapping) if mapping.contains("field")? && mapping.contains("value")? => mapping.copy(),
            _ => Err(PyValueError::new_err("'append' effect requires {field: ..., value: ...}")),
        },
        "compute" => match value.cast::<PyDict>() {
            Ok(mapping) => mapping.copy(),
            Err(_) => Err(PyValueError::new_err("'compute' effect requires a mapping of {key: expression}")),
        },
        other => Err(PyValueError::new_err(format!("Unknown effect type: {other}"))),
    }
}

/// A tuple snapshot of a phase's specs (lists and other iterables are copied).
fn tuple_of<'py>(what: &str, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let value = match value.cast_into::<PyTuple>() {
        Ok(tuple) => return Ok(tuple),
        Err(err) => err.into_inner(),
    };
    if value.is_instance_of::<PyString>() || value.is_none() {
        return Err(type_error(what, "a tuple of ActionSpec", &value));
    }
    match value.try_iter() {
        Ok(iter) => PyTuple::new(value.py(), iter.collect::<PyResult<Vec<_>>>()?),
        Err(_) => Err(type_error(what, "a tuple of ActionSpec", &value)),
    }
}

/// Immutable result of a transition computation: what the engine decided should
/// happen; the executor runs its actions (exit, then transition, then enter).
#[pyclass(name = "TransitionResult", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct TransitionResult {
    #[pyo3(get)]
    pub success: Py<PyAny>,
    #[pyo3(get)]
    pub source_state: Py<PyAny>,
    #[pyo3(get)]
    pub target_state: Py<PyAny>,
    #[pyo3(get)]
    pub trigger: Py<PyAny>,
    #[pyo3(get)]
    pub actions_to_execute: Py<PyTuple>,
    #[pyo3(get)]
    pub on_exit_actions: Py<PyTuple>,
    #[pyo3(get)]
    pub on_enter_actions: Py<PyTuple>,
    #[pyo3(get)]
    pub error: Py<PyAny>,
    #[pyo3(get)]
    pub metadata: Py<PyAny>,
}

const TR_FIELDS: [&str; 9] = [
    "success",
    "source_state",
    "target_state",
    "trigger",
    "actions_to_execute",
    "on_exit_actions",
    "on_enter_actions",
    "error",
    "metadata",
];

impl TransitionResult {
    fn fields(&self, py: Python<'_>) -> [Py<PyAny>; 9] {
        [
            self.success.clone_ref(py),
            self.source_state.clone_ref(py),
            self.target_state.clone_ref(py),
            self.trigger.clone_ref(py),
            self.actions_to_execute.clone_ref(py).into_any(),
            self.on_exit_actions.clone_ref(py).into_any(),
            self.on_enter_actions.clone_ref(py).into_any(),
            self.error.clone_ref(py),
            self.metadata.clone_ref(py),
        ]
    }

    /// The three phases in execution order: exit, transition, enter.
    pub fn phases<'py>(&self, py: Python<'py>) -> [&Bound<'py, PyTuple>; 3] {
        [self.on_exit_actions.bind(py), self.actions_to_execute.bind(py), self.on_enter_actions.bind(py)]
    }
}

#[pymethods]
impl TransitionResult {
    #[new]
    #[pyo3(signature = (success, source_state, target_state, trigger, actions_to_execute = None, on_exit_actions = None, on_enter_actions = None, error = None, metadata = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        success: Py<PyAny>,
        source_state: Py<PyAny>,
        target_state: Py<PyAny>,
        trigger: Py<PyAny>,
        actions_to_execute: Option<Bound<'_, PyAny>>,
        on_exit_actions: Option<Bound<'_, PyAny>>,
        on_enter_actions: Option<Bound<'_, PyAny>>,
        error: Option<Py<PyAny>>,
        metadata: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let phase = |what: &str, value: Option<Bound<'_, PyAny>>| -> PyResult<Py<PyTuple>> {
            match value {
                None => Ok(PyTuple::empty(py).unbind()),
                Some(v) => Ok(tuple_of(what, v)?.unbind()),
            }
        };
        Ok(Self {
            success,
            source_state,
            target_state,
            trigger,
            actions_to_execute: phase("TransitionResult.actions_to_execute", actions_to_execute)?,
            on_exit_actions: phase("TransitionResult.on_exit_actions", on_exit_actions)?,
            on_enter_actions: phase("TransitionResult.on_enter_actions", on_enter_actions)?,
            error: error.unwrap_or_else(|| py.None()),
            metadata: metadata.unwrap_or_else(|| PyDict::new(py).into_any().unbind()),
        })
    }

    /// All action specs in execution order: exit -> transition -> enter.
    #[getter]
    fn all_action_specs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let mut items = Vec::new();
        for phase in self.phases(py) {
            items.extend(phase.iter());
        }
        PyTuple::new(py, items)
    }

    /// Action names in execution order.
    #[getter]
    fn all_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let mut names = Vec::new();
        for phase in self.phases(py) {
            for spec in phase.iter() {
                names.push(spec.getattr(intern!(py, "name"))?);
            }
        }
        PyTuple::new(py, names)
    }

    /// True if the transition succeeded and source == target.
    #[getter]
    fn is_self_transition(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.success.bind(py).is_truthy()? && self.source_state.bind(py).eq(self.target_state.bind(py))?)
    }

    /// True if the transition succeeded and the state actually changed.
    #[getter]
    fn state_changed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.success.bind(py).is_truthy()? && self.source_state.bind(py).ne(self.target_state.bind(py))?)
    }

    /// Create a successful transition result.
    #[classmethod]
    #[pyo3(signature = (source_state, target_state, trigger, actions = None, on_exit = None, on_enter = None, metadata = None))]
    #[allow(clippy::too_many_arguments)]
    fn success_result(
        cls: &Bound<'_, PyType>,
        source_state: Py<PyAny>,
        target_state: Py<PyAny>,
        trigger: Py<PyAny>,
        actions: Option<Py<PyAny>>,
        on_exit: Option<Py<PyAny>>,
        on_enter: Option<Py<PyAny>>,
        metadata: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let empty = || PyTuple::empty(py).into_any().unbind();
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", true)?;
        kwargs.set_item("source_state", source_state)?;
        kwargs.set_item("target_state", target_state)?;
        kwargs.set_item("trigger", trigger)?;
        kwargs.set_item("actions_to_execute", actions.unwrap_or_else(empty))?;
        kwargs.set_item("on_exit_actions", on_exit.unwrap_or_else(empty))?;
        kwargs.set_item("on_enter_actions", on_enter.unwrap_or_else(empty))?;
        kwargs.set_item("metadata", metadata_or_empty(py, metadata)?)?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    /// Create a failed transition result.
    #[classmethod]
    #[pyo3(signature = (source_state, trigger, error, metadata = None))]
    fn failure_result(
        cls: &Bound<'_, PyType>,
        source_state: Py<PyAny>,
        trigger: Py<PyAny>,
        error: Py<PyAny>,
        metadata: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", false)?;
        kwargs.set_item("source_state", source_state)?;
        kwargs.set_item("target_state", py.None())?;
        kwargs.set_item("trigger", trigger)?;
        kwargs.set_item("error", error)?;
        kwargs.set_item("metadata", metadata_or_empty(py, metadata)?)?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    /// Create a no-op result (stay in the same state, no actions).
    #[classmethod]
    #[pyo3(signature = (current_state, trigger, metadata = None))]
    fn no_op_result(
        cls: &Bound<'_, PyType>,
        current_state: Py<PyAny>,
        trigger: Py<PyAny>,
        metadata: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let meta = PyDict::new(py);
        if let Some(m) = metadata {
            if m.is_truthy()? {
                meta.update(m.cast::<PyMapping>()?)?;
            }
        }
        meta.set_item("no_op", true)?;
        meta.set_item("reason", "no_matching_transition")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("success", true)?;
        kwargs.set_item("source_state", &current_state)?;
        kwargs.set_item("target_state", &current_state)?;
        kwargs.set_item("trigger", trigger)?;
        kwargs.set_item("metadata", meta)?;
        Ok(cls.call((), Some(&kwargs))?.unbind())
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, TR_FIELDS)?.unbind())
    }

    fn __setattr__(&self, py: Python<'_>, name: &str, _value: Py<PyAny>) -> PyResult<()> {
        Err(frozen_error(py, name))
    }

    fn __delattr__(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        Err(frozen_error(py, name))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let values = slf.get().fields(py);
        let fields: Vec<(&str, Bound<'_, PyAny>)> =
            TR_FIELDS.iter().copied().zip(values.into_iter().map(|v| v.into_bound(py))).collect();
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
        let other = other.cast::<TransitionResult>()?;
        let equal = fields_equal(py, &slf.get().fields(py), &other.get().fields(py))?;
        Ok(bool_object(py, equal == matches!(op, CompareOp::Eq)))
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        PyTuple::new(slf.py(), slf.get().fields(slf.py()))?.hash()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let args = PyTuple::new(py, slf.get().fields(py))?;
        PyTuple::new(py, [slf.get_type().into_any(), args.into_any()])
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for field in [&self.success, &self.source_state, &self.target_state, &self.trigger, &self.error, &self.metadata]
        {
            visit.call(field)?;
        }
        visit.call(&self.actions_to_execute)?;
        visit.call(&self.on_exit_actions)?;
        visit.call(&self.on_enter_actions)?;
        Ok(())
    }

    /// `copy.replace(result, **changes)` (Python 3.13+).
    #[pyo3(signature = (**changes))]
    fn __replace__(slf: &Bound<'_, Self>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        replace_fields(slf.as_any(), &TR_FIELDS, &slf.get().fields(slf.py()), changes)
    }
}

fn metadata_or_empty<'py>(py: Python<'py>, metadata: Option<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    match metadata {
        Some(m) if m.is_truthy()? => Ok(m),
        _ => Ok(PyDict::new(py).into_any()),
    }
}

// ---------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------

/// A reference a [`Job`] holds: borrowed from the spec, which the caller keeps alive
/// for as long as the job (no reference count changes on the hot path: in free-threaded
/// builds, those of objects every thread shares are atomic operations that make the
/// threads wait for each other), or owned when it had to be read (foreign specs).
pub enum Held<'a, 'py, T> {
    Borrowed(&'a Bound<'py, T>),
    Owned(Bound<'py, T>),
}

impl<'py, T> std::ops::Deref for Held<'_, 'py, T> {
    type Target = Bound<'py, T>;

    fn deref(&self) -> &Bound<'py, T> {
        match self {
            Held::Borrowed(b) => b,
            Held::Owned(o) => o,
        }
    }
}

impl<T> Held<'_, '_, T> {
    pub fn unbind(self) -> Py<T> {
        match self {
            Held::Borrowed(b) => b.clone().unbind(),
            Held::Owned(o) => o.unbind(),
        }
    }
}

/// One action to run, resolved from a spec (or a bare name), borrowing what it can
/// from the spec: the sync hot path resolves, runs and drops a Job per action.
pub struct Job<'a, 'py> {
    pub name: Held<'a, 'py, PyString>,
    /// The spec's params, only when it has any (`spec.has_params`).
    pub params: Option<Held<'a, 'py, PyAny>>,
    /// `spec.timeout` when not None (async paths only).
    pub timeout: Option<Held<'a, 'py, PyAny>>,
    /// Number of retries after the first attempt (`max(retry, 0)`).
    pub retries: u64,
    pub backoff: Held<'a, 'py, PyAny>,
    /// The spec, when it is ours (its registry key is precomputed).
    pub spec: Option<&'a Bound<'py, ActionSpec>>,
    /// The spec object when it is not ours (ours is `spec`); None for a bare name.
    /// 0.0.47's built-in actions are run from it (see [`Job::spec_object`]).
    pub source: Option<Held<'a, 'py, PyAny>>,
    /// 0.0.47's `when`, when not None (not yet checked).
    pub when: Option<Held<'a, 'py, PyAny>>,
    /// How many `_branch` actions enclose this one (0.0.47's `branch_enclosing_depth`).
    pub depth: i64,
    /// What a trusted pystator spec was found to be (its registry key among it).
    pub plan: Option<Arc<Plan>>,
}

/// A [`Job`] stored across suspensions of the async driver.
pub struct OwnedJob {
    pub name: Py<PyString>,
    pub params: Option<Py<PyAny>>,
    pub timeout: Option<Py<PyAny>>,
    pub retries: u64,
    pub backoff: Py<PyAny>,
    pub spec: Option<Py<ActionSpec>>,
    pub source: Option<Py<PyAny>>,
    pub when: Option<Py<PyAny>>,
    pub depth: i64,
    pub plan: Option<Arc<Plan>>,
}

impl OwnedJob {
    pub fn bind<'a, 'py>(&'a self, py: Python<'py>) -> Job<'a, 'py> {
        Job {
            name: Held::Borrowed(self.name.bind(py)),
            params: self.params.as_ref().map(|p| Held::Borrowed(p.bind(py))),
            timeout: self.timeout.as_ref().map(|t| Held::Borrowed(t.bind(py))),
            retries: self.retries,
            backoff: Held::Borrowed(self.backoff.bind(py)),
            spec: self.spec.as_ref().map(|s| s.bind(py)),
            source: self.source.as_ref().map(|s| Held::Borrowed(s.bind(py))),
            when: self.when.as_ref().map(|w| Held::Borrowed(w.bind(py))),
            depth: self.depth,
            plan: self.plan.clone(),
        }
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.params)?;
        visit.call(&self.timeout)?;
        visit.call(&self.backoff)?;
        visit.call(&self.source)?;
        visit.call(&self.when)
    }
}

impl<'a, 'py> Job<'a, 'py> {
    pub fn unbind(self) -> OwnedJob {
        OwnedJob {
            name: self.name.unbind(),
            params: self.params.map(Held::unbind),
            timeout: self.timeout.map(Held::unbind),
            retries: self.retries,
            backoff: self.backoff.unbind(),
            spec: self.spec.map(|s| s.clone().unbind()),
            source: self.source.map(Held::unbind),
            when: self.when.map(Held::unbind),
            depth: self.depth,
            plan: self.plan,
        }
    }

    /// The action's registry key, and where it was last found, when they are known
    /// without reading the name: ours precomputes them, a trusted spec's plan holds them.
    pub fn known_key(&self) -> Option<(&[u8], &AtomicU64)> {
        match (self.spec, &self.plan) {
            (Some(ours), _) => {
                let ours = ours.get();
                Some((&ours.key, &ours.remembered))
            }
            (None, Some(plan)) => Some((&plan.key, &plan.remembered)),
            (None, None) => None,
        }
    }

    /// The spec object (ours or not); None for a bare name.
    pub fn spec_object(&self) -> Option<&Bound<'py, PyAny>> {
        match (self.spec, &self.source) {
            (Some(ours), _) => Some(ours.as_any()),
            (None, source) => source.as_deref(),
        }
    }

    /// A bare name: no params, no retries, no timeout.
    pub fn from_name(name: &'a Bound<'py, PyAny>) -> PyResult<Self> {
        let py = name.py();
        let name = name.cast::<PyString>().map_err(|_| type_error("action name", "a str", name))?;
        Ok(Self {
            name: Held::Borrowed(name),
            params: None,
            timeout: None,
            retries: 0,
            backoff: Held::Owned(PyFloat::new(py, 1.0).into_any()),
            spec: None,
            source: None,
            when: None,
            depth: 0,
            plan: None,
        })
    }

    /// Reads a spec: ours directly, any other object through its attributes
    /// (`name`, `has_params`, `params`, `timeout`, `retry`, `retry_backoff`, and
    /// `when` under a contract that has it).
    pub fn from_spec(spec: &'a Bound<'py, PyAny>, with_timeout: bool, contract: Contract) -> PyResult<Self> {
        let py = spec.py();
        if let Ok(ours) = spec.cast::<ActionSpec>() {
            let s: &'a ActionSpec = ours.get();
            let params = s.params.bind(py);
            let has_params = match params.cast::<PyDict>() {
                Ok(d) => !d.is_empty(),
                Err(_) => params.is_truthy()?,
            };
            let timeout = s.timeout.bind(py);
            let when = s.when.bind(py);
            return Ok(Self {
                name: Held::Borrowed(s.name.bind(py)),
                params: has_params.then_some(Held::Borrowed(params)),
                timeout: (with_timeout && !timeout.is_none()).then_some(Held::Borrowed(timeout)),
                retries: s.retries,
                backoff: Held::Borrowed(s.retry_backoff.bind(py)),
                spec: Some(ours),
                source: None,
                when: (contract.has_when() && !when.is_none()).then_some(Held::Borrowed(when)),
                depth: 0,
                plan: None,
            });
        }
        let trusted = is_trusted(spec, &TRUSTED_SPEC);
        if trusted {
            if let Some(job) = Self::from_plan(spec, with_timeout, contract)? {
                return Ok(job);
            }
            if let Some(job) = Self::from_pystator_slots(spec, with_timeout, contract)? {
                return Ok(job);
            }
        }
        let attr = |name: &Bound<'py, PyString>| spec_attr(spec, name);
        let name = attr(intern!(py, "name"))?;
        let name = name.cast_into::<PyString>().map_err(|e| type_error("ActionSpec.name", "a str", &e.into_inner()))?;
        let params = if trusted {
            let params = attr(intern!(py, "params"))?;
            pystator_has_params(&params)?.then_some(params)
        } else if attr(intern!(py, "has_params"))?.is_truthy()? {
            Some(attr(intern!(py, "params"))?)
        } else {
            None
        };
        let timeout = if with_timeout {
            let t = attr(intern!(py, "timeout"))?;
            if t.is_none() {
                None
            } else {
                check_number("ActionSpec.timeout", &t)?;
                Some(t)
            }
        } else {
            None
        };
        let retries = check_retry("ActionSpec.retry", &attr(intern!(py, "retry"))?)?;
        let backoff = if trusted && retries == 0 {
            // Never slept on: a pystator spec without retries is not asked for it.
            py.None().into_bound(py)
        } else {
            let backoff = attr(intern!(py, "retry_backoff"))?;
            check_number("ActionSpec.retry_backoff", &backoff)?;
            backoff
        };
        let when = if contract.has_when() {
            match spec.getattr_opt(intern!(py, "when"))? {
                Some(w) if !w.is_none() => Some(Held::Owned(w)),
                _ => None,
            }
        } else {
            None
        };
        Ok(Self {
            name: Held::Owned(name),
            params: params.map(Held::Owned),
            timeout: timeout.map(Held::Owned),
            retries,
            backoff: Held::Owned(backoff),
            spec: None,
            source: Some(Held::Borrowed(spec)),
            when,
            depth: 0,
            plan: None,
        })
    }
}

impl<'a, 'py> Job<'a, 'py> {
    /// pystator's own spec, from the [`Plan`] remembered for it (made now when there
    /// is none, or when its slots no longer hold the plan's objects). None when the
    /// slots cannot be used, or the spec is one a plan is not made for (a field of the
    /// wrong type, say): [`Job::from_pystator_slots`] reads it, raising what it raises.
    fn from_plan(spec: &'a Bound<'py, PyAny>, with_timeout: bool, contract: Contract) -> PyResult<Option<Self>> {
        let Some(slots) = Slots::current(&SPEC_SLOTS, spec) else { return Ok(None) };
        let plan = match plans::get(spec) {
            Some(plan) if plan.holds(slots, spec) => plan,
            _ => match Plan::make(slots, spec) {
                Some(plan) => {
                    plans::put(spec, plan.clone());
                    plan
                }
                None => return Ok(None),
            },
        };
        let py = spec.py();
        let when = if contract.has_when() {
            match &plan.when {
                Some(when) => (!when.is_none(py)).then(|| Held::Owned(when.bind(py).clone())),
                None => return Ok(None), // no `when` slot (0.0.25's class), or emptied
            }
        } else {
            None
        };
        let Some(params) = slots.get(spec, 1) else { return Ok(None) };
        let has_params = pystator_has_params(&params)?;
        let timeout = plan.timeout.bind(py);
        Ok(Some(Self {
            name: Held::Owned(plan.name.bind(py).clone()),
            params: has_params.then_some(Held::Owned(params)),
            timeout: (with_timeout && !timeout.is_none()).then(|| Held::Owned(timeout.clone())),
            retries: plan.retries,
            // Never slept on without retries: a pystator spec is then not asked for it.
            backoff: Held::Owned(if plan.retries == 0 {
                py.None().into_bound(py)
            } else {
                plan.backoff.bind(py).clone()
            }),
            spec: None,
            source: Some(Held::Borrowed(spec)),
            when,
            depth: 0,
            plan: Some(plan),
        }))
    }

    /// pystator's own spec read straight from its slots ([`Slots`]), with what
    /// reading the attributes would give; None when the slots cannot be used (class
    /// modified since it was trusted, a field deleted, or a `when` the contract reads
    /// and the class has no slot for): the caller reads attributes.
    fn from_pystator_slots(
        spec: &'a Bound<'py, PyAny>,
        with_timeout: bool,
        contract: Contract,
    ) -> PyResult<Option<Self>> {
        let Some(slots) = Slots::current(&SPEC_SLOTS, spec) else { return Ok(None) };
        // The fields the attribute path reads, in its order (SPEC_SLOT_FIELDS indices);
        // an empty slot sends the whole spec to that path.
        let (Some(name), Some(params)) = (slots.get(spec, 0), slots.get(spec, 1)) else { return Ok(None) };
        let py = spec.py();
        let name = name.cast_into::<PyString>().map_err(|e| type_error("ActionSpec.name", "a str", &e.into_inner()))?;
        let has_params = pystator_has_params(&params)?;
        let timeout = if with_timeout {
            let Some(timeout) = slots.get(spec, 2) else { return Ok(None) };
            if timeout.is_none() {
                None
            } else {
                check_number("ActionSpec.timeout", &timeout)?;
                Some(timeout)
            }
        } else {
            None
        };
        let Some(retry) = slots.get(spec, 3) else { return Ok(None) };
        let retries = check_retry("ActionSpec.retry", &retry)?;
        let backoff = if retries == 0 {
            // Never slept on: a pystator spec without retries is not asked for it.
            py.None().into_bound(py)
        } else {
            let Some(backoff) = slots.get(spec, 4) else { return Ok(None) };
            check_number("ActionSpec.retry_backoff", &backoff)?;
            backoff
        };
        let when = if contract.has_when() {
            match slots.get(spec, 5) {
                Some(when) => (!when.is_none()).then_some(Held::Owned(when)),
                None => return Ok(None), // no `when` slot (0.0.25's class), or emptied
            }
        } else {
            None
        };
        Ok(Some(Self {
            name: Held::Owned(name),
            params: has_params.then_some(Held::Owned(params)),
            timeout: timeout.map(Held::Owned),
            retries,
            backoff: Held::Owned(backoff),
            spec: None,
            source: Some(Held::Borrowed(spec)),
            when,
            depth: 0,
            plan: None,
        }))
    }
}

/// Where a trusted pystator class (`ActionSpec`, `TransitionResult`) keeps the fields
/// the executor reads: the byte offsets of those `__slots__`,
/// valid while the class's type version tag is the one seen when they were taken
/// (CPython gives a class a new tag whenever it or a base is modified, so a field
/// replaced by a property, say, sends reads back to `getattr`). Reading a slot at its
/// offset is what the slot's member descriptor does, minus the attribute lookup that
/// dominated the cost of pystator's objects. Immutable once published; the GIL
/// serialises the reads with any write of the slots (not used on free-threaded builds).
struct Slots<const N: usize> {
    class: usize,
    version: std::os::raw::c_uint,
    /// 0: an optional field the class does not have (read as an empty slot).
    offsets: [ffi::Py_ssize_t; N],
}

/// The published [`Slots`] (null: none). Each one published is leaked: install()
/// publishes at most one per trusted class and version.
static SPEC_SLOTS: AtomicPtr<Slots<6>> = AtomicPtr::new(std::ptr::null_mut());
/// The same for pystator's `TransitionResult` (TRANSITION_SLOT_FIELDS).
static TRANSITION_SLOTS: AtomicPtr<Slots<4>> = AtomicPtr::new(std::ptr::null_mut());

/// An `ActionSpec`'s fields; `when` is pystator 0.0.47's (a class without it, as
/// 0.0.25's, reads it as an empty slot: see [`Job::from_pystator_slots`]).
const SPEC_SLOT_FIELDS: [&str; 6] = ["name", "params", "timeout", "retry", "retry_backoff", "when"];
const SPEC_OPTIONAL_FIELDS: &[&str] = &["when"];
const TRANSITION_SLOT_FIELDS: [&str; 4] = ["success", "on_exit_actions", "actions_to_execute", "on_enter_actions"];

impl<const N: usize> Slots<N> {
    /// The slots of `spec`'s class when they are current for it.
    fn current(published: &AtomicPtr<Self>, spec: &Bound<'_, PyAny>) -> Option<&'static Self> {
        // SAFETY: a non-null pointer is a leaked, never freed, immutable Slots.
        let slots = unsafe { published.load(Ordering::Acquire).as_ref() }?;
        let class = spec.get_type();
        // SAFETY: the type object is alive (the spec holds it); reading its tag.
        let version = unsafe { (*class.as_type_ptr()).tp_version_tag };
        (class.as_ptr() as usize == slots.class && version == slots.version).then_some(slots)
    }

    /// The object in field `i` (in the `*_SLOT_FIELDS` order), without a reference of
    /// its own: null for an empty slot, or a field the class does not have.
    fn ptr(&self, obj: &Bound<'_, PyAny>, i: usize) -> *mut ffi::PyObject {
        let offset = self.offsets[i];
        if offset == 0 {
            return std::ptr::null_mut();
        }
        // SAFETY: `obj` is an instance of the class these offsets were taken from
        // (checked by `current`), whose layout a class cannot change; each offset is
        // that of an object slot (Py_T_OBJECT_EX member). The GIL is held.
        unsafe { *obj.as_ptr().cast::<u8>().offset(offset).cast::<*mut ffi::PyObject>() }
    }

    /// Field `i`: None for an empty slot, or a field the class does not have. Fields
    /// are read one at a time, where they are needed, as reading the attributes would.
    fn get<'py>(&self, obj: &Bound<'py, PyAny>, i: usize) -> Option<Bound<'py, PyAny>> {
        // SAFETY: `ptr` is null or a live object the slot holds a reference to.
        unsafe { Bound::from_borrowed_ptr_or_opt(obj.py(), self.ptr(obj, i)) }
    }

    /// Whether field `i` holds exactly `True` (Some(true)) or `False` (Some(false)),
    /// read without taking a reference; None for anything else.
    fn get_bool(&self, obj: &Bound<'_, PyAny>, i: usize) -> Option<bool> {
        let value = self.ptr(obj, i);
        // SAFETY: the addresses of CPython's static bool singletons, only compared.
        let (yes, no) = unsafe { (ffi::Py_True(), ffi::Py_False()) };
        (value == yes || value == no).then_some(value == yes)
    }

    /// Publishes the slot offsets of `class` when each field is a plain object slot
    /// (or, for those in `optional`, not an attribute of the class at all) and the class
    /// has a version tag; otherwise clears them (reads use getattr).
    fn publish(
        published: &AtomicPtr<Self>,
        class: &Bound<'_, PyType>,
        fields: [&str; N],
        optional: &[&str],
    ) -> PyResult<()> {
        let py = class.py();
        let gil_disabled = py.import("sysconfig")?.call_method1("get_config_var", ("Py_GIL_DISABLED",))?.is_truthy()?;
        let mut offsets = [0; N];
        let mut usable = !gil_disabled;
        for (offset, field) in offsets.iter_mut().zip(fields) {
            // The class attribute is the member descriptor itself (looking it up also
            // gives the class a version tag, read below).
            let descr = match class.getattr_opt(field) {
                Ok(Some(descr)) => descr,
                Ok(None) if optional.contains(&field) => continue, // offset 0: not a field of this class
                // Missing, or a class whose lookup raises: read through getattr.
                _ => {
                    usable = false;
                    break;
                }
            };
            // SAFETY: PyMemberDescr_Type is CPython's static member_descriptor type;
            // an object of exactly that type is a PyMemberDescrObject, whose d_member is
            // a `PyMemberDef *` on every CPython (pyo3-ffi 0.30 types it `PyGetSetDef`
            // before 3.11, hence the cast: CPython 3.10's descrobject.h says PyMemberDef).
            let member = unsafe {
                if ffi::Py_TYPE(descr.as_ptr()) != std::ptr::addr_of_mut!(ffi::PyMemberDescr_Type) {
                    None
                } else {
                    let d_member = (*descr.as_ptr().cast::<ffi::PyMemberDescrObject>()).d_member;
                    d_member.cast::<ffi::PyMemberDef>().as_ref().copied()
                }
            };
            match member {
                Some(def) if def.type_code == ffi::Py_T_OBJECT_EX && def.offset > 0 => *offset = def.offset,
                _ => {
                    usable = false;
                    break;
                }
            }
        }
        // SAFETY: the class is alive; reading its tag.
        let version = unsafe { (*class.as_type_ptr()).tp_version_tag };
        let slots = (usable && version != 0).then(|| Slots { class: class.as_ptr() as usize, version, offsets });
        // SAFETY: as in `current`.
        let current = unsafe { published.load(Ordering::Acquire).as_ref() };
        let same = match (&slots, current) {
            (Some(new), Some(old)) => {
                new.class == old.class && new.version == old.version && new.offsets == old.offsets
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            let new = slots.map_or(std::ptr::null_mut(), |s| Box::into_raw(Box::new(s)));
            published.store(new, Ordering::Release);
        }
        Ok(())
    }
}

/// What a trusted pystator spec was found to be: the objects its fields held (name,
/// timeout, retry, retry_backoff, when), checked and converted as [`Job::from_spec`]
/// does, and its registry key with where that key was last found (as our own spec
/// keeps them). A spec is read from its plan while its slots hold these very objects
/// (params are read at every use: a dict's contents can change); the plan holds them,
/// so no other object can take their addresses meanwhile. pystator's machines reuse
/// their specs for every event: the plan spares reading, checking and hashing their
/// fields each time.
pub struct Plan {
    name: Py<PyString>,
    timeout: Py<PyAny>,
    retry: Py<PyAny>,
    backoff: Py<PyAny>,
    /// None: the class has no `when` slot, or it is empty.
    when: Option<Py<PyAny>>,
    retries: u64,
    pub key: Box<[u8]>,
    pub remembered: AtomicU64,
}

impl Plan {
    /// The plan for a spec whose fields all read and check cleanly; None otherwise
    /// (the slow path then raises what reading it raises).
    fn make(slots: &Slots<6>, spec: &Bound<'_, PyAny>) -> Option<Arc<Self>> {
        let name = slots.get(spec, 0)?.cast_into::<PyString>().ok()?;
        let timeout = slots.get(spec, 2)?;
        if !timeout.is_none() {
            check_number("ActionSpec.timeout", &timeout).ok()?;
        }
        let retry = slots.get(spec, 3)?;
        let retries = check_retry("ActionSpec.retry", &retry).ok()?;
        let backoff = slots.get(spec, 4)?;
        if retries > 0 {
            check_number("ActionSpec.retry_backoff", &backoff).ok()?;
        }
        let key = name_key(&name).ok()?.into_owned().into_boxed_slice();
        Some(Arc::new(Self {
            when: slots.get(spec, 5).map(Bound::unbind),
            name: name.unbind(),
            timeout: timeout.unbind(),
            retry: retry.unbind(),
            backoff: backoff.unbind(),
            retries,
            key,
            remembered: AtomicU64::new(0),
        }))
    }

    /// Whether `spec`'s slots still hold the objects this plan was made of.
    fn holds(&self, slots: &Slots<6>, spec: &Bound<'_, PyAny>) -> bool {
        let when = self.when.as_ref().map_or(std::ptr::null_mut(), Py::as_ptr);
        slots.ptr(spec, 0) == self.name.as_ptr()
            && slots.ptr(spec, 2) == self.timeout.as_ptr()
            && slots.ptr(spec, 3) == self.retry.as_ptr()
            && slots.ptr(spec, 4) == self.backoff.as_ptr()
            && slots.ptr(spec, 5) == when
    }
}

/// The plans, remembered by spec address in a small direct-mapped table (a spec
/// colliding with another replaces its plan). Only builds with a GIL: the trusted
/// slots a plan is made from are not used on free-threaded builds.
#[cfg(not(Py_GIL_DISABLED))]
mod plans {
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    use pyo3::prelude::*;

    use super::Plan;

    const SIZE: usize = 256;

    struct Table(UnsafeCell<[Option<Arc<Plan>>; SIZE]>);

    // SAFETY: the table is only touched with the GIL held (every access takes a `Bound`,
    // so the caller is attached), on builds where the GIL serialises Python threads;
    // each access is a single clone or swap during which no Python code runs (a plan
    // replaced is dropped after the swap).
    unsafe impl Sync for Table {}

    static TABLE: Table = Table(UnsafeCell::new([const { None }; SIZE]));

    fn index(spec: &Bound<'_, PyAny>) -> usize {
        // Fibonacci hashing of the address (objects are 16-byte aligned).
        (spec.as_ptr() as usize >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SIZE.trailing_zeros())
    }

    pub fn get(spec: &Bound<'_, PyAny>) -> Option<Arc<Plan>> {
        // SAFETY: see `Table`.
        unsafe { (*TABLE.0.get())[index(spec)].clone() }
    }

    pub fn put(spec: &Bound<'_, PyAny>, plan: Arc<Plan>) {
        // SAFETY: see `Table`.
        let old = unsafe { (*TABLE.0.get())[index(spec)].replace(plan) };
        drop(old); // may run Python code (a `when` finalizer): after the swap
    }
}

#[cfg(Py_GIL_DISABLED)]
mod plans {
    use std::sync::Arc;

    use pyo3::prelude::*;

    use super::Plan;

    pub fn get(_spec: &Bound<'_, PyAny>) -> Option<Arc<Plan>> {
        None
    }

    pub fn put(_spec: &Bound<'_, PyAny>, _plan: Arc<Plan>) {}
}

/// pystator's `ActionSpec.has_params`: `bool(params)` (an exact dict's emptiness read
/// directly).
fn pystator_has_params(params: &Bound<'_, PyAny>) -> PyResult<bool> {
    match params.cast_exact::<PyDict>() {
        Ok(d) => Ok(!d.is_empty()),
        Err(_) => params.is_truthy(),
    }
}

fn spec_attr<'py>(spec: &Bound<'py, PyAny>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
    spec.getattr(name).map_err(|_| {
        PyTypeError::new_err(format!("action spec must have a '{name}' attribute, got {}", type_name(spec)))
    })
}

/// What an executor needs of a transition: did it succeed, and its specs in order.
/// Ours is read in place (it is immutable), without reference count changes.
pub enum TransitionView<'a, 'py> {
    Ours(&'a Bound<'py, TransitionResult>),
    /// pystator's own TransitionResult (exactly that class, see [`trust_pystator_types`]):
    /// its phases are read as fields, not through `all_action_specs`.
    Pystator(&'a Bound<'py, PyAny>),
    Foreign(&'a Bound<'py, PyAny>),
}

/// A transition's specs in execution order: its three phase tuples (borrowed from an
/// immutable TransitionResult, or read from pystator's), or the tuple a foreign one gave.
pub enum AllSpecs<'a, 'py> {
    Phases([&'a Bound<'py, PyTuple>; 3]),
    Read([Bound<'py, PyTuple>; 3]),
    Tuple(Bound<'py, PyTuple>),
}

impl<'py> AllSpecs<'_, 'py> {
    pub fn iter(&self) -> impl Iterator<Item = &Bound<'py, PyAny>> {
        let (phases, read): (&[&Bound<'py, PyTuple>], &[Bound<'py, PyTuple>]) = match self {
            AllSpecs::Phases(phases) => (phases, &[]),
            AllSpecs::Read(read) => (&[], read),
            AllSpecs::Tuple(tuple) => (&[], std::slice::from_ref(tuple)),
        };
        phases.iter().copied().chain(read).flat_map(|t| t.as_slice())
    }

    /// The specs as up to three runs, in order (a foreign transition's in one).
    pub fn runs(&self) -> [&[Bound<'py, PyAny>]; 3] {
        match self {
            AllSpecs::Phases([a, b, c]) => [a.as_slice(), b.as_slice(), c.as_slice()],
            AllSpecs::Read([a, b, c]) => [a.as_slice(), b.as_slice(), c.as_slice()],
            AllSpecs::Tuple(tuple) => [tuple.as_slice(), &[], &[]],
        }
    }
}

/// The addresses of pystator's `TransitionResult` and `ActionSpec` classes once they are
/// trusted (0: none); the classes themselves are kept alive in `TRUSTED_KEEP`.
static TRUSTED_TRANSITION: AtomicUsize = AtomicUsize::new(0);
static TRUSTED_SPEC: AtomicUsize = AtomicUsize::new(0);
static TRUSTED_KEEP: std::sync::Mutex<Vec<Py<PyType>>> = std::sync::Mutex::new(Vec::new());

fn is_trusted(obj: &Bound<'_, PyAny>, trusted: &AtomicUsize) -> bool {
    let address = trusted.load(Ordering::Relaxed);
    address != 0 && obj.get_type().as_ptr() as usize == address
}

/// Trusts pystator's own `TransitionResult` and `ActionSpec` classes (exactly those, not
/// subclasses): their instances are read field by field with the semantics the pystator
/// contract gives them (`all_action_specs` is exit + transition + enter, `has_params` is
/// `bool(params)`), instead of through those properties. Fields are read at every use,
/// so an instance changed with `object.__setattr__` is seen as it is. Called by
/// `ferrostator.install()` for the contracts whose classes behave so.
#[pyfunction]
pub fn _trust_pystator_types(transition_type: Bound<'_, PyType>, spec_type: Bound<'_, PyType>) -> PyResult<()> {
    // Before the lock: publishing runs Python code.
    Slots::publish(&SPEC_SLOTS, &spec_type, SPEC_SLOT_FIELDS, SPEC_OPTIONAL_FIELDS)?;
    Slots::publish(&TRANSITION_SLOTS, &transition_type, TRANSITION_SLOT_FIELDS, &[])?;
    let mut keep = TRUSTED_KEEP.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    TRUSTED_TRANSITION.store(transition_type.as_ptr() as usize, Ordering::Relaxed);
    TRUSTED_SPEC.store(spec_type.as_ptr() as usize, Ordering::Relaxed);
    // Once each: install() trusts the same two classes every time it is called.
    for class in [transition_type, spec_type] {
        if !keep.iter().any(|kept| kept.as_ptr() == class.as_ptr()) {
            keep.push(class.unbind());
        }
    }
    Ok(())
}

impl<'a, 'py> TransitionView<'a, 'py> {
    pub fn new(tr: &'a Bound<'py, PyAny>) -> Self {
        match tr.cast::<TransitionResult>() {
            Ok(ours) => TransitionView::Ours(ours),
            Err(_) if is_trusted(tr, &TRUSTED_TRANSITION) => TransitionView::Pystator(tr),
            Err(_) => TransitionView::Foreign(tr),
        }
    }

    fn attr(tr: &Bound<'py, PyAny>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        tr.getattr(name).map_err(|_| {
            PyTypeError::new_err(format!("transition_result must have a '{name}' attribute, got {}", type_name(tr)))
        })
    }

    pub fn success(&self) -> PyResult<bool> {
        match self {
            TransitionView::Ours(tr) => tr.get().success.bind(tr.py()).is_truthy(),
            TransitionView::Pystator(tr) => {
                if let Some(slots) = Slots::current(&TRANSITION_SLOTS, tr) {
                    if let Some(success) = slots.get_bool(tr, 0) {
                        return Ok(success);
                    }
                    if let Some(success) = slots.get(tr, 0) {
                        return success.is_truthy();
                    }
                }
                Self::attr(tr, intern!(tr.py(), "success"))?.is_truthy()
            }
            TransitionView::Foreign(tr) => Self::attr(tr, intern!(tr.py(), "success"))?.is_truthy(),
        }
    }

    /// All specs, exit -> transition -> enter.
    pub fn all_specs(&self) -> PyResult<AllSpecs<'a, 'py>> {
        match *self {
            TransitionView::Ours(tr) => Ok(AllSpecs::Phases(tr.get().phases(tr.py()))),
            TransitionView::Pystator(_) => Ok(AllSpecs::Read(self.phases()?)),
            TransitionView::Foreign(tr) => {
                let all = Self::attr(tr, intern!(tr.py(), "all_action_specs"))?;
                Ok(AllSpecs::Tuple(tuple_of("transition_result.all_action_specs", all)?))
            }
        }
    }

    /// The three phases (exit, transition, enter) as tuples.
    pub fn phases(&self) -> PyResult<[Bound<'py, PyTuple>; 3]> {
        match self {
            TransitionView::Ours(tr) => {
                let [a, b, c] = tr.get().phases(tr.py());
                Ok([a.clone(), b.clone(), c.clone()])
            }
            TransitionView::Pystator(tr) | TransitionView::Foreign(tr) => {
                let py = tr.py();
                if let TransitionView::Pystator(_) = self {
                    if let Some((Some(exit), Some(transition), Some(enter))) = Slots::current(&TRANSITION_SLOTS, tr)
                        .map(|slots| (slots.get(tr, 1), slots.get(tr, 2), slots.get(tr, 3)))
                    {
                        return Ok([
                            tuple_of("transition_result.on_exit_actions", exit)?,
                            tuple_of("transition_result.actions_to_execute", transition)?,
                            tuple_of("transition_result.on_enter_actions", enter)?,
                        ]);
                    }
                }
                let get = |n: &Bound<'py, PyString>, what: &str| tuple_of(what, Self::attr(tr, n)?);
                Ok([
                    get(intern!(py, "on_exit_actions"), "transition_result.on_exit_actions")?,
                    get(intern!(py, "actions_to_execute"), "transition_result.actions_to_execute")?,
                    get(intern!(py, "on_enter_actions"), "transition_result.on_enter_actions")?,
                ])
            }
        }
    }
}

/// A list of specs from any iterable (snapshot).
pub fn spec_list<'py>(what: &str, specs: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if let Ok(list) = specs.cast::<PyList>() {
        return Ok(list.iter().collect());
    }
    Ok(tuple_of(what, specs.clone())?.iter().collect())
}
