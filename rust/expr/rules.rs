//! simpleeval's rules, applied where the operation happens: its exception classes and
//! messages, the check of every intermediate value (modules, forbidden functions), the
//! attribute rules, and the operators it limits (`+`, `*`, `**`, `<<`, `>>`).
//!
//! The limits and lists (`MAX_STRING_LENGTH`, `MAX_POWER`, `MAX_SHIFT`, `MAX_SHIFT_BASE`,
//! `DISALLOW_PREFIXES`, `DISALLOW_METHODS`, `DISALLOW_FUNCTIONS`, `ATTR_INDEX_FALLBACK`)
//! are read from the simpleeval module when they are needed, as simpleeval reads them,
//! so a program that tightens them is obeyed.

use pyo3::exceptions::{PyAttributeError, PyKeyError, PyRecursionError, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PyModule, PySet, PyString, PyTuple, PyType};

/// The simpleeval versions whose behaviour the differential tests verify: with any other
/// version installed, expressions run on simpleeval itself.
pub const VERIFIED_SIMPLEEVAL: [&str; 1] = ["1.0.8"];

/// What the engine takes from the simpleeval module, looked up once.
pub struct Simpleeval {
    pub module: Py<PyModule>,
    pub simple_eval: Py<PyType>,
    feature_not_available: Py<PyType>,
    name_not_defined: Py<PyType>,
    function_not_defined: Py<PyType>,
    attribute_does_not_exist: Py<PyType>,
    number_too_high: Py<PyType>,
    iterable_too_long: Py<PyType>,
    assignment_attempted: Py<PyType>,
    multiple_expressions: Py<PyType>,
    module_wrapper: Py<PyType>,
    module_type: Py<PyType>,
    /// Where simpleeval's own `warnings.warn` calls are (file, and the lines of its
    /// assignment, augmented assignment and multiple-expression warnings), so the
    /// engine's warnings are reported from there, under simpleeval's filters.
    file: std::ffi::CString,
    warn_lines: [i32; 3],
    /// Whether the installed simpleeval is one of [`VERIFIED_SIMPLEEVAL`].
    pub verified: bool,
}

static SIMPLEEVAL: PyOnceLock<Simpleeval> = PyOnceLock::new();

/// The simpleeval module's objects (ImportError when simpleeval is not installed).
pub fn simpleeval(py: Python<'_>) -> PyResult<&'static Simpleeval> {
    SIMPLEEVAL.get_or_try_init(py, || {
        let module = py.import("simpleeval")?;
        let class = |name: &str| -> PyResult<Py<PyType>> { Ok(module.getattr(name)?.cast_into::<PyType>()?.unbind()) };
        let version: String = py
            .import("importlib.metadata")?
            .call_method1("version", ("simpleeval",))
            .and_then(|v| v.extract())
            .unwrap_or_default();
        Ok(Simpleeval {
            simple_eval: class("SimpleEval")?,
            feature_not_available: class("FeatureNotAvailable")?,
            name_not_defined: class("NameNotDefined")?,
            function_not_defined: class("FunctionNotDefined")?,
            attribute_does_not_exist: class("AttributeDoesNotExist")?,
            number_too_high: class("NumberTooHigh")?,
            iterable_too_long: class("IterableTooLong")?,
            assignment_attempted: class("AssignmentAttempted")?,
            multiple_expressions: class("MultipleExpressions")?,
            module_wrapper: class("ModuleWrapper")?,
            module_type: py.import("types")?.getattr("ModuleType")?.cast_into::<PyType>()?.unbind(),
            file: std::ffi::CString::new(module.getattr("__file__")?.extract::<String>()?)
                .map_err(|_| PyTypeError::new_err("simpleeval's file name has a NUL byte"))?,
            warn_lines: {
                let class = module.getattr("SimpleEval")?;
                [
                    warn_line(&class.getattr("_eval_assign")?)?,
                    warn_line(&class.getattr("_eval_aug_assign")?)?,
                    warn_line(&class.getattr("parse")?)?,
                ]
            },
            verified: VERIFIED_SIMPLEEVAL.contains(&version.as_str()),
            module: module.unbind(),
        })
    })
}

impl Simpleeval {
    /// A module-level setting of simpleeval's, as it is now.
    pub fn setting<'py>(&self, py: Python<'py>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        self.module.bind(py).getattr(name)
    }

    pub fn feature_not_available(&self, py: Python<'_>, message: String) -> PyErr {
        PyErr::from_type(self.feature_not_available.bind(py).clone(), (message,))
    }

    pub fn name_not_defined(&self, py: Python<'_>, name: &Bound<'_, PyAny>, expr: &Bound<'_, PyAny>) -> PyErr {
        PyErr::from_type(self.name_not_defined.bind(py).clone(), (name.clone().unbind(), expr.clone().unbind()))
    }

    pub fn function_not_defined(&self, py: Python<'_>, name: &Bound<'_, PyAny>, expr: &Bound<'_, PyAny>) -> PyErr {
        PyErr::from_type(self.function_not_defined.bind(py).clone(), (name.clone().unbind(), expr.clone().unbind()))
    }

    pub fn attribute_does_not_exist(&self, py: Python<'_>, attr: &Bound<'_, PyAny>, expr: &Bound<'_, PyAny>) -> PyErr {
        PyErr::from_type(self.attribute_does_not_exist.bind(py).clone(), (attr.clone().unbind(), expr.clone().unbind()))
    }

    fn number_too_high(&self, py: Python<'_>, message: String) -> PyErr {
        PyErr::from_type(self.number_too_high.bind(py).clone(), (message,))
    }

    pub fn iterable_too_long(&self, py: Python<'_>, message: String) -> PyErr {
        PyErr::from_type(self.iterable_too_long.bind(py).clone(), (message,))
    }

    /// simpleeval's `AssignmentAttempted` warning for `expr` (`x = ...` or `x += ...`).
    pub fn warn_assignment(&self, py: Python<'_>, expr: &Bound<'_, PyAny>, augmented: bool) -> PyResult<()> {
        let message = format!("Assignment ({}) attempted, but this is ignored", expr.str()?);
        let line = self.warn_lines[usize::from(augmented)];
        self.warn(py, self.assignment_attempted.bind(py), &message, line)
    }

    /// simpleeval's `MultipleExpressions` warning for `expr`.
    pub fn warn_multiple(&self, py: Python<'_>, expr: &Bound<'_, PyAny>) -> PyResult<()> {
        let message = format!("'{}' contains multiple expressions. Only the first will be used.", expr.str()?);
        self.warn(py, self.multiple_expressions.bind(py), &message, self.warn_lines[2])
    }

    /// A warning as simpleeval's `warnings.warn` call at `line` gives it: from its file
    /// and module (so `-W ignore:::simpleeval` applies).
    fn warn(&self, py: Python<'_>, category: &Bound<'_, PyType>, message: &str, line: i32) -> PyResult<()> {
        let message = std::ffi::CString::new(message.replace('\0', "\\x00"))
            .map_err(|_| PyTypeError::new_err("warning message with a NUL byte"))?;
        // No registry: every SimpleEval() resets the warning registries (its constructor
        // changes the filters), so under "default" simpleeval's warnings show each time.
        PyErr::warn_explicit(py, category.as_any(), &message, &self.file, line, Some(c"simpleeval"), None)
    }

    /// `MAX_STRING_LENGTH`, compared as simpleeval compares it: `length > MAX_STRING_LENGTH`.
    pub fn too_long(&self, py: Python<'_>, length: usize) -> PyResult<bool> {
        let max = self.setting(py, intern!(py, "MAX_STRING_LENGTH"))?;
        match max.extract::<i64>() {
            Ok(max) => Ok(length as i128 > max as i128),
            Err(_) => length.into_pyobject(py)?.gt(max),
        }
    }

    /// The `IterableTooLong` a literal longer than `MAX_STRING_LENGTH` raises.
    pub fn literal_too_long(&self, py: Python<'_>, length: usize) -> PyErr {
        let max = self.setting(py, intern!(py, "MAX_STRING_LENGTH")).and_then(|m| formatted(&m));
        match max {
            Ok(max) => {
                self.iterable_too_long(py, format!("Literal in statement is too long! ({length}, when {max} is max)"))
            }
            Err(err) => err,
        }
    }

    /// Whether `item` is one of `DISALLOW_FUNCTIONS` (asked only of callables).
    fn forbidden(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.setting(py, intern!(py, "DISALLOW_FUNCTIONS"))?.contains(item)
    }

    /// simpleeval's check of every value an expression node produces: modules and
    /// forbidden functions are refused, also inside lists, tuples, sets and dict values.
    pub fn check(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        if is_primitive(item) {
            return Ok(());
        }
        self.check_nested(py, item, 0)
    }

    fn check_nested(&self, py: Python<'_>, item: &Bound<'_, PyAny>, depth: u32) -> PyResult<()> {
        if is_primitive(item) || item.is_instance(self.module_wrapper.bind(py))? {
            return Ok(());
        }
        if item.is_instance(self.module_type.bind(py))? {
            return Err(self.feature_not_available(py, "Sorry, modules are not allowed".into()));
        }
        let container = item.is_instance(&py.get_type::<PyList>())?
            || item.is_instance(&py.get_type::<PyTuple>())?
            || item.is_instance(&py.get_type::<PySet>())?
            || item.is_instance(&py.get_type::<PyFrozenSet>())?;
        if container {
            enter_nested(depth)?;
            for element in item.try_iter()? {
                self.check_nested(py, &element?, depth + 1)?;
            }
        } else if item.is_instance(&py.get_type::<PyDict>())? {
            enter_nested(depth)?;
            let values = match item.cast_exact::<PyDict>() {
                Ok(dict) => dict.values().into_any(),
                Err(_) => item.call_method0(intern!(py, "values"))?,
            };
            for value in values.try_iter()? {
                self.check_nested(py, &value?, depth + 1)?;
            }
        } else if item.is_callable() && self.forbidden(py, item)? {
            return Err(self.feature_not_available(py, "This function is forbidden".into()));
        }
        Ok(())
    }

    /// A function about to be called by name: refused when it is in `DISALLOW_FUNCTIONS`.
    pub fn check_callee(&self, py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.forbidden(py, func)? {
            return Err(self.feature_not_available(py, "This function is forbidden".into()));
        }
        Ok(())
    }

    /// The refusals that depend on the attribute's name alone.
    pub fn check_attribute_name(&self, py: Python<'_>, attr: &Bound<'_, PyString>) -> PyResult<()> {
        for prefix in self.setting(py, intern!(py, "DISALLOW_PREFIXES"))?.try_iter()? {
            let prefix = prefix?;
            if attr.call_method1(intern!(py, "startswith"), (prefix,))?.is_truthy()? {
                return Err(self.feature_not_available(
                    py,
                    format!("Sorry, access to __attributes  or func_ attributes is not available. ({attr})"),
                ));
            }
        }
        if self.setting(py, intern!(py, "DISALLOW_METHODS"))?.contains(attr)? {
            return Err(self.feature_not_available(py, format!("Sorry, this method is not available. ({attr})")));
        }
        Ok(())
    }

    /// `value.attr` as simpleeval reads it: the attribute, else (with
    /// `ATTR_INDEX_FALLBACK`) `value[attr]`; modules and forbidden functions refused.
    pub fn attribute<'py>(
        &self,
        py: Python<'py>,
        value: &Bound<'py, PyAny>,
        attr: &Bound<'py, PyString>,
        expr: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let item = match value.getattr(attr) {
            Ok(item) => Some(item),
            Err(missing)
                if missing.is_instance_of::<PyAttributeError>(py) || missing.is_instance_of::<PyTypeError>(py) =>
            {
                // raised inside simpleeval's `except`: what escapes has the getattr error as context
                let within = |err: PyErr| {
                    if err.value(py).getattr(intern!(py, "__context__")).is_ok_and(|c| c.is_none()) {
                        err.set_context(py, Some(missing.clone_ref(py)));
                    }
                    err
                };
                let fallback = self.setting(py, intern!(py, "ATTR_INDEX_FALLBACK")).map_err(within)?;
                if fallback.is_truthy().map_err(within)? {
                    match value.get_item(attr) {
                        Ok(item) => Some(item),
                        Err(err) if err.is_instance_of::<PyKeyError>(py) || err.is_instance_of::<PyTypeError>(py) => {
                            None
                        }
                        Err(err) => return Err(within(err)),
                    }
                } else {
                    None
                }
            }
            Err(err) => return Err(err),
        };
        let Some(item) = item else {
            return Err(self.attribute_does_not_exist(py, attr, expr));
        };
        if item.is_instance(self.module_type.bind(py))? {
            return Err(self.feature_not_available(py, "Sorry, modules are not allowed in attribute access".into()));
        }
        if item.is_callable() && self.forbidden(py, &item)? {
            return Err(self.feature_not_available(py, "This function is forbidden".into()));
        }
        Ok(item)
    }

    /// simpleeval's `safe_add`: two sized operands may not add up past `MAX_STRING_LENGTH`.
    pub fn add<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if has_len(a)? && has_len(b)? {
            let total = (a.len()? as u128 + b.len()? as u128) as usize;
            if self.too_long(py, total)? {
                return Err(self
                    .iterable_too_long(py, "Sorry, adding those two together would make something too long.".into()));
            }
        }
        a.add(b)
    }

    /// simpleeval's `safe_mult`: repeating a sized operand is limited to `MAX_STRING_LENGTH`.
    pub fn mul<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        for (sized, times) in [(a, b), (b, a)] {
            if has_len(sized)? {
                let max = self.setting(py, intern!(py, "MAX_STRING_LENGTH"))?;
                if times.mul(sized.len()?)?.gt(max)? {
                    return Err(self.iterable_too_long(py, "Sorry, I will not evaluate something that long.".into()));
                }
            }
        }
        a.mul(b)
    }

    /// simpleeval's `safe_power`: neither side beyond `MAX_POWER` in absolute value.
    pub fn pow<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let max = self.setting(py, intern!(py, "MAX_POWER"))?;
        if absolute(a)?.gt(&max)? || absolute(b)?.gt(&max)? {
            return Err(self.number_too_high(
                py,
                format!("Sorry! I don't want to evaluate {} ** {}", formatted(a)?, formatted(b)?),
            ));
        }
        a.pow(b, py.None())
    }

    /// simpleeval's `safe_lshift` / `safe_rshift`: the shift within `MAX_SHIFT`, the
    /// shifted number within `MAX_SHIFT_BASE`.
    pub fn shift<'py>(
        &self,
        py: Python<'py>,
        a: &Bound<'py, PyAny>,
        b: &Bound<'py, PyAny>,
        left: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let too_far = absolute(b)?.gt(self.setting(py, intern!(py, "MAX_SHIFT"))?)?
            || absolute(a)?.gt(self.setting(py, intern!(py, "MAX_SHIFT_BASE"))?)?;
        let symbol = if left { "<<" } else { ">>" };
        if too_far {
            return Err(self.number_too_high(
                py,
                format!("Sorry! I don't want to evaluate {} {symbol} {}", formatted(a)?, formatted(b)?),
            ));
        }
        if left {
            a.lshift(b)
        } else {
            a.rshift(b)
        }
    }
}

/// The types simpleeval never looks into: exactly int, float, str, bool, None, bytes, complex.
#[inline]
pub fn is_primitive(item: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading the type pointer of a live object.
    let t = unsafe { ffi::Py_TYPE(item.as_ptr()) };
    let is = |static_type: *mut ffi::PyTypeObject| t == static_type;
    is(&raw mut ffi::PyLong_Type)
        || is(&raw mut ffi::PyUnicode_Type)
        || is(&raw mut ffi::PyFloat_Type)
        || is(&raw mut ffi::PyBool_Type)
        || item.is_none()
        || is(&raw mut ffi::PyBytes_Type)
        || is(&raw mut ffi::PyComplex_Type)
}

/// `hasattr(value, "__len__")`, answered without a lookup for the common exact types.
fn has_len(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    // SAFETY: reading the type pointer of a live object.
    let t = unsafe { ffi::Py_TYPE(value.as_ptr()) };
    let is = |static_type: *mut ffi::PyTypeObject| t == static_type;
    if is(&raw mut ffi::PyLong_Type)
        || is(&raw mut ffi::PyFloat_Type)
        || is(&raw mut ffi::PyBool_Type)
        || value.is_none()
    {
        return Ok(false);
    }
    if is(&raw mut ffi::PyUnicode_Type)
        || is(&raw mut ffi::PyList_Type)
        || is(&raw mut ffi::PyTuple_Type)
        || is(&raw mut ffi::PyDict_Type)
    {
        return Ok(true);
    }
    value.hasattr(intern!(value.py(), "__len__"))
}

/// `abs(value)`.
fn absolute<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: PyNumber_Absolute returns a new reference or NULL with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(value.py(), ffi::PyNumber_Absolute(value.as_ptr())) }
}

/// `f"{value}"`: `format(value, "")`.
pub fn formatted(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    // SAFETY: PyObject_Format returns a new reference or NULL with an exception set.
    let text =
        unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyObject_Format(value.as_ptr(), intern!(py, "").as_ptr()))? };
    text.extract()
}

/// The line of the `warnings.warn(` call in one of simpleeval's functions (its first
/// line when the source cannot be read).
fn warn_line(function: &Bound<'_, PyAny>) -> PyResult<i32> {
    let py = function.py();
    let first: i32 = function.getattr("__code__")?.getattr("co_firstlineno")?.extract()?;
    let Ok(found) = py.import("inspect")?.call_method1("getsourcelines", (function,)) else {
        return Ok(first);
    };
    let (lines, start): (Vec<String>, i32) = found.extract()?;
    Ok(lines.iter().position(|line| line.contains("warnings.warn(")).map_or(first, |i| start + i as i32))
}

/// Containers nest at most this deep in a checked value (simpleeval recurses in Python
/// and fails with RecursionError somewhat earlier or later, depending on the stack).
const MAX_NESTING: u32 = 900;

fn enter_nested(depth: u32) -> PyResult<()> {
    if depth >= MAX_NESTING {
        return Err(PyRecursionError::new_err("maximum recursion depth exceeded while checking a value"));
    }
    crate::stack::check()
}
