//! The Python-level objects the core needs: the classes defined in `prelude.py`,
//! enum members, the logger, and a few cached callables.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

const PRELUDE: &std::ffi::CStr =
    match std::ffi::CStr::from_bytes_with_nul(concat!(include_str!("prelude.py"), "\0").as_bytes()) {
        Ok(code) => code,
        Err(_) => panic!("prelude.py must not contain NUL bytes"),
    };

/// Everything looked up once. `time.sleep` and `asyncio.sleep` are deliberately
/// absent: they are read from their modules at each use so that
/// `unittest.mock.patch("time.sleep")` in a user's test takes effect.
pub struct Defs {
    pub namespace: Py<PyDict>,
    pub status_ok: Py<PyAny>,
    pub status_failed: Py<PyAny>,
    pub status_skipped: Py<PyAny>,
    /// `.value` of OK, FAILED, SKIPPED.
    pub status_values: [Py<PyAny>; 3],
    pub mode_sequential: Py<PyAny>,
    pub mode_parallel: Py<PyAny>,
    pub mode_phased: Py<PyAny>,
    pub action_not_found: Py<PyType>,
    pub is_async_callable: Py<PyAny>,
    pub time_module: Py<PyModule>,
    pub asyncio_module: Py<PyModule>,
    pub get_running_loop: Py<PyAny>,
    pub asyncio_task: Py<PyAny>,
    pub isawaitable: Py<PyAny>,
    /// Python 3.12+: tasks can start eagerly (`asyncio.Task(..., eager_start=True)`).
    pub eager_tasks: bool,
}

static DEFS: PyOnceLock<Defs> = PyOnceLock::new();

impl Defs {
    /// The logger the actions log to: the prelude's `logger`, read at each record so
    /// that `ferrostator.install()` can point it at pystator's (only failures and skips
    /// are logged, so this is off the hot path).
    pub fn logger<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.namespace
            .bind(py)
            .get_item(pyo3::intern!(py, "logger"))?
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("prelude lacks logger"))
    }
}

/// The shared definitions, created on first use.
pub fn defs(py: Python<'_>) -> PyResult<&'static Defs> {
    DEFS.get_or_try_init(py, || load(py))
}

fn load(py: Python<'_>) -> PyResult<Defs> {
    let namespace = PyDict::new(py);
    namespace.set_item("__name__", "ferrostator._core")?;
    namespace.set_item("__builtins__", py.import("builtins")?)?;
    namespace.set_item("_contract_evaluator", pyo3::wrap_pyfunction!(crate::expr::_contract_evaluator, py)?)?;
    namespace.set_item("_simpleeval_verified", pyo3::wrap_pyfunction!(crate::expr::_simpleeval_verified, py)?)?;
    py.run(PRELUDE, Some(&namespace), None)?;
    let get = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        namespace
            .get_item(name)?
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err(format!("prelude lacks {name}")))
    };
    let status = get("ActionStatus")?;
    let [ok, failed, skipped] = [status.getattr("OK")?, status.getattr("FAILED")?, status.getattr("SKIPPED")?];
    let mode = get("ExecutionMode")?;
    let asyncio = py.import("asyncio")?;
    Ok(Defs {
        status_values: [
            ok.getattr("value")?.unbind(),
            failed.getattr("value")?.unbind(),
            skipped.getattr("value")?.unbind(),
        ],
        status_ok: ok.unbind(),
        status_failed: failed.unbind(),
        status_skipped: skipped.unbind(),
        mode_sequential: mode.getattr("SEQUENTIAL")?.unbind(),
        mode_parallel: mode.getattr("PARALLEL")?.unbind(),
        mode_phased: mode.getattr("PHASED")?.unbind(),
        action_not_found: get("ActionNotFoundError")?.cast_into::<PyType>()?.unbind(),
        is_async_callable: get("_is_async_callable")?.unbind(),
        time_module: py.import("time")?.unbind(),
        get_running_loop: asyncio.getattr("get_running_loop")?.unbind(),
        asyncio_task: asyncio.getattr("Task")?.unbind(),
        asyncio_module: asyncio.unbind(),
        isawaitable: py.import("inspect")?.getattr("isawaitable")?.unbind(),
        namespace: namespace.unbind(),
        eager_tasks: py.version_info() >= (3, 12),
    })
}

/// Adds the prelude's public names to the extension module.
pub fn export(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let namespace = defs(py)?.namespace.bind(py);
    for name in [
        "ActionStatus",
        "ExecutionMode",
        "ErrorCode",
        "FSMError",
        "ActionNotFoundError",
        "is_transient_error",
        "_restore_error",
        "_adopt_pystator_errors",
        "_use_logger",
        "_V47ErrorCode",
        "_v47_import",
    ] {
        if let Some(value) = namespace.get_item(name)? {
            module.add(name, value)?;
        }
    }
    Ok(())
}
