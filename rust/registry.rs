//! The action registry: a name -> callable table read on every event and written
//! rarely. Readers load an immutable snapshot (ArcSwap) without any lock; writers
//! serialize on a mutex, copy the table, and publish the new one. No lock is ever
//! held while Python code runs, so actions may register, unregister or execute
//! re-entrantly, from any thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use indexmap::IndexMap;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};

use crate::contract::{call_prelude, Contract};
use crate::defs::defs;
use crate::results::{ActionResult, Res};
use crate::util::{
    action_not_found, call_one, close_iter, defer_refcount, is_awaitable, is_exception, name_key, truthy, type_error,
    type_name,
};

/// A registered action.
pub struct Entry {
    pub name: Py<PyString>,
    pub func: Py<PyAny>,
    pub metadata: Py<PyAny>,
    pub is_async: bool,
    /// The signature has keyword-only or `**kwargs` parameters (inspected at
    /// registration by registries whose contract passes params as keyword arguments).
    pub accepts_kwargs: bool,
}

type Entries = IndexMap<Box<[u8]>, Arc<Entry>, foldhash::fast::RandomState>;

/// One published version of the registry's contents. Tables are never changed once
/// published (writers publish a new one), and every table gets a new `uid`.
struct Table {
    uid: u64,
    entries: Entries,
}

/// Source of table uids (0 is never used, so it can mean "none").
static NEXT_TABLE_UID: AtomicU64 = AtomicU64::new(1);

impl Table {
    fn new(entries: Entries) -> Self {
        Self { uid: NEXT_TABLE_UID.fetch_add(1, Ordering::Relaxed), entries }
    }
}

/// Bits of a remembered position that hold the entry's index; the rest hold the uid.
const INDEX_BITS: u32 = 24;

/// The table as it was when loaded: a run of actions keeps one and reuses it for as
/// long as [`Registry::is_current`] says so, instead of loading the table again for
/// every action. A guard rather than an `Arc` clone: loading it writes only to this
/// thread's slots, not to a reference count every thread shares.
pub struct Snapshot {
    table: arc_swap::Guard<Arc<Table>>,
}

impl Snapshot {
    pub fn get(&self, key: &[u8]) -> Option<&Arc<Entry>> {
        self.table.entries.get(key)
    }

    /// `get`, helped by `remembered`: where `key` was found in a table last time, as
    /// `uid << INDEX_BITS | index`. The position is used only if it was found in this
    /// very table (tables never change), so a stale or racing value merely costs a
    /// hash lookup.
    pub fn get_remembered(&self, key: &[u8], remembered: &AtomicU64) -> Option<&Arc<Entry>> {
        let hint = remembered.load(Ordering::Relaxed);
        if hint >> INDEX_BITS == self.table.uid {
            let index = (hint & ((1 << INDEX_BITS) - 1)) as usize;
            if let Some((_, entry)) = self.table.entries.get_index(index) {
                return Some(entry);
            }
        }
        let (index, _, entry) = self.table.entries.get_full(key)?;
        if index < 1 << INDEX_BITS && self.table.uid < 1 << (64 - INDEX_BITS) {
            remembered.store(self.table.uid << INDEX_BITS | index as u64, Ordering::Relaxed);
        }
        Some(entry)
    }
}

/// What a registry holds. `copy.copy(registry)` makes a second registry object over
/// the same contents (as a shallow copy of pystator's registry shares its dicts).
struct Contents {
    table: ArcSwap<Table>,
    /// The uid of the table published last (set after it is published).
    uid: AtomicU64,
    writer: Mutex<()>,
}

impl Contents {
    fn new(entries: Entries) -> Arc<Self> {
        let table = Table::new(entries);
        Arc::new(Self { uid: AtomicU64::new(table.uid), table: ArcSwap::from_pointee(table), writer: Mutex::new(()) })
    }
}

/// Registry for action functions (sync and async). Thread-safe.
#[pyclass(name = "RegistryCore", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct Registry {
    contents: Arc<Contents>,
    /// Whether registering again replaces, and whether signatures are inspected.
    contract: Contract,
}

/// Keyword of `RegistryCore.__new__` through which `__copy__` makes a registry over
/// the contents of another.
const SHARE_KEYWORD: &str = "_ferrostator_share_contents_of";

/// What happens to a failing action call.
pub enum Called {
    Ok(Py<PyAny>),
    /// An `Exception` (becomes a failed result).
    Failed(PyErr),
}

impl Registry {
    /// A new registry of `contract`, or (`__copy__`) one over the contents of the
    /// registry given under SHARE_KEYWORD.
    fn new_sharing(kwargs: Option<&Bound<'_, PyDict>>, contract: Contract) -> Self {
        if let Some(kwargs) = kwargs {
            if let Ok(Some(other)) = kwargs.get_item(SHARE_KEYWORD) {
                if let Ok(other) = other.cast::<Registry>() {
                    return Self { contents: other.get().contents.clone(), contract };
                }
            }
        }
        Self { contents: Contents::new(Entries::default()), contract }
    }

    pub fn contract(&self) -> Contract {
        self.contract
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot { table: self.contents.table.load() }
    }

    /// True while no write published a table since `snapshot` was taken.
    pub fn is_current(&self, snapshot: &Snapshot) -> bool {
        self.contents.uid.load(Ordering::Acquire) == snapshot.table.uid
    }

    pub fn lookup(&self, key: &[u8]) -> Option<Arc<Entry>> {
        self.contents.table.load().entries.get(key).cloned()
    }

    pub fn lookup_py(&self, name: &Bound<'_, PyString>) -> PyResult<Option<Arc<Entry>>> {
        Ok(self.lookup(&name_key(name)?))
    }

    /// Applies `edit` to a copy of the table and publishes it. The previous table is
    /// returned so the caller drops it (and with it, possibly the last reference to a
    /// Python callable, whose finalizer may run Python code) after the lock is released.
    fn write<R>(&self, edit: impl FnOnce(&mut Entries) -> R) -> (R, Arc<Table>) {
        let _guard = self.contents.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries = self.contents.table.load().entries.clone();
        let out = edit(&mut entries);
        self.publish(Table::new(entries), out)
    }

    /// Publishes `table`, then its uid (see `is_current`).
    fn publish<R>(&self, table: Table, out: R) -> (R, Arc<Table>) {
        let uid = table.uid;
        let previous = self.contents.table.swap(Arc::new(table));
        self.contents.uid.store(uid, Ordering::Release);
        (out, previous)
    }

    /// Calls a registered action synchronously.
    ///
    /// Async actions cannot be run here: they fail with RuntimeError (and are not
    /// called); a sync callable returning an awaitable has it closed and fails too.
    /// `Err` carries BaseExceptions (KeyboardInterrupt, SystemExit, ...) that must
    /// propagate.
    pub fn call_sync(py: Python<'_>, entry: &Entry, context: &Bound<'_, PyAny>) -> PyResult<Called> {
        if let Err(err) = crate::stack::check() {
            return Ok(Called::Failed(err));
        }
        if entry.is_async {
            let msg = format!("Action '{}' is async and cannot be executed synchronously", entry.name.bind(py));
            return Ok(Called::Failed(pyo3::exceptions::PyRuntimeError::new_err(msg)));
        }
        match call_one(entry.func.bind(py), context) {
            Ok(value) => {
                if is_awaitable(&value)? {
                    if let Err(err) = close_iter(&value) {
                        return if is_exception(py, &err) { Ok(Called::Failed(err)) } else { Err(err) };
                    }
                    let msg =
                        format!("Action '{}' returned an awaitable in synchronous execution", entry.name.bind(py));
                    return Ok(Called::Failed(pyo3::exceptions::PyRuntimeError::new_err(msg)));
                }
                Ok(Called::Ok(value.unbind()))
            }
            Err(err) if is_exception(py, &err) => Ok(Called::Failed(err)),
            Err(err) => Err(err),
        }
    }

    /// The entry for `name`, or ActionNotFoundError("Action 'x' not found").
    pub fn get_entry(&self, name: &Bound<'_, PyAny>) -> PyResult<Arc<Entry>> {
        let py = name.py();
        let key = name.cast::<PyString>().map_err(|_| type_error("action name", "a str", name))?;
        match self.lookup_py(key)? {
            Some(entry) => Ok(entry),
            None => Err(action_not_found(py, format!("Action '{key}' not found"), name)),
        }
    }

    /// `execute` without raise_on_error: the result of one call, or a propagating
    /// BaseException.
    pub fn execute_entry(
        py: Python<'_>,
        entry: &Entry,
        name: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
    ) -> PyResult<Res> {
        match Self::call_sync(py, entry, context)? {
            Called::Ok(value) => Ok(Res::succeeded(name.clone().unbind(), value)),
            Called::Failed(err) => Ok(Res::failed(name.clone().unbind(), err.into_value(py).into_any())),
        }
    }
}

#[pymethods]
impl Registry {
    #[new]
    #[pyo3(signature = (*_args, **kwargs))]
    fn py_new(_args: &Bound<'_, pyo3::types::PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self::new_sharing(kwargs, Contract::Seed)
    }

    /// `copy.copy(registry)`: a registry of the same type over the same contents (an
    /// action registered through either is seen by both, as with pystator's shallow
    /// copy); the instance `__dict__`, if any, is copied shallowly.
    fn __copy__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let cls = slf.get_type();
        let kwargs = PyDict::new(py);
        kwargs.set_item(SHARE_KEYWORD, slf)?;
        let copy = cls.call_method(pyo3::intern!(py, "__new__"), (&cls,), Some(&kwargs))?;
        copy_instance_dict(slf.as_any(), &copy, None)?;
        Ok(copy.unbind())
    }

    /// `copy.deepcopy(registry)`: an independent registry of the same type holding the
    /// same actions, with deep copies of their metadata (callables are deep-copied as
    /// `copy.deepcopy` copies them, which keeps functions as they are).
    fn __deepcopy__(slf: &Bound<'_, Self>, memo: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let deepcopy = py.import(pyo3::intern!(py, "copy"))?.getattr(pyo3::intern!(py, "deepcopy"))?;
        let cls = slf.get_type();
        let mut entries = Entries::default();
        for (key, entry) in slf.get().contents.table.load().entries.iter() {
            let func = deepcopy.call1((entry.func.bind(py), memo))?;
            let metadata = deepcopy.call1((entry.metadata.bind(py), memo))?;
            let copied = Entry {
                name: entry.name.clone_ref(py),
                func: func.unbind(),
                metadata: metadata.unbind(),
                is_async: entry.is_async,
                accepts_kwargs: entry.accepts_kwargs,
            };
            entries.insert(key.clone(), Arc::new(copied));
        }
        let fresh = Py::new(py, Registry { contents: Contents::new(entries), contract: slf.get().contract })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item(SHARE_KEYWORD, fresh)?;
        let copy = cls.call_method(pyo3::intern!(py, "__new__"), (&cls,), Some(&kwargs))?;
        copy_instance_dict(slf.as_any(), &copy, Some((&deepcopy, memo)))?;
        Ok(copy.unbind())
    }

    /// Register an action function. Thread-safe.
    ///
    /// Raises ValueError for an empty name or (pystator 0.0.25's contract) a name
    /// already registered — pystator 0.0.47's contract replaces it; TypeError for a
    /// non-str name, a non-callable `func` or metadata that is not a mapping.
    #[pyo3(signature = (name, func, metadata = None))]
    fn register(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        func: &Bound<'_, PyAny>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if !name.is_truthy()? {
            return Err(PyValueError::new_err("Action name cannot be empty"));
        }
        let name = name.cast::<PyString>().map_err(|_| type_error("Action name", "a str", name))?;
        if !func.is_callable() {
            return Err(PyTypeError::new_err(format!("Action '{name}' must be callable, got {}", type_name(func))));
        }
        let metadata = match metadata {
            Some(m) if m.is_truthy()? => {
                if m.cast::<PyMapping>().is_err() {
                    return Err(type_error("Action metadata", "a dict or None", m));
                }
                m.clone().unbind()
            }
            Some(m) if !m.is_none() && m.cast::<PyMapping>().is_err() => {
                return Err(type_error("Action metadata", "a dict or None", m));
            }
            _ => PyDict::new(py).into_any().unbind(),
        };
        // Python code (coroutine detection) runs before the writer lock is taken.
        let is_async = defs(py)?.is_async_callable.bind(py).call1((func,))?.is_truthy()?;
        defer_refcount(func);
        let accepts_kwargs = self.contract.params_as_kwargs()
            && call_prelude(py, "_v47_accepts_kwargs", pyo3::types::PyTuple::new(py, [func])?)?.is_truthy()?;
        let key: Box<[u8]> = name_key(name)?.into();
        let entry = Arc::new(Entry {
            name: name.clone().unbind(),
            func: func.clone().unbind(),
            metadata,
            is_async,
            accepts_kwargs,
        });
        let replaces = self.contract.register_replaces();
        let (added, previous) = self.write(|table| {
            if table.contains_key(&key) && !replaces {
                Err(entry)
            } else {
                table.insert(key, entry);
                Ok(())
            }
        });
        drop(previous);
        match added {
            Ok(()) => Ok(()),
            Err(rejected) => {
                drop(rejected);
                Err(PyValueError::new_err(format!("Action '{name}' is already registered")))
            }
        }
    }

    /// Unregister an action function. Thread-safe. Raises ActionNotFoundError if absent.
    fn unregister(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = name.py();
        let key = name.cast::<PyString>().map_err(|_| type_error("action name", "a str", name))?;
        let key_bytes = name_key(key)?;
        let (removed, previous) = self.write(|table| table.shift_remove(key_bytes.as_ref()));
        let found = removed.is_some();
        drop(removed);
        drop(previous);
        if found {
            Ok(())
        } else {
            Err(action_not_found(py, format!("Action '{key}' not found"), name))
        }
    }

    /// Look up a registered action callable by name (ActionNotFoundError if absent).
    fn get(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Ok(self.get_entry(name)?.func.clone_ref(py))
    }

    /// Check whether an action is registered.
    fn has(&self, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        match name.cast::<PyString>() {
            Ok(key) => Ok(self.lookup_py(key)?.is_some()),
            Err(_) => Ok(false),
        }
    }

    /// A copy of the metadata registered with an action ({} if absent).
    fn get_metadata<'py>(&self, py: Python<'py>, name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let entry = match name.cast::<PyString>() {
            Ok(key) => self.lookup_py(key)?,
            Err(_) => None,
        };
        let copy = PyDict::new(py);
        if let Some(entry) = entry {
            copy.update(entry.metadata.bind(py).cast::<PyMapping>()?)?;
        }
        Ok(copy)
    }

    /// True if the named action is an async function.
    fn is_async(&self, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        match name.cast::<PyString>() {
            Ok(key) => Ok(self.lookup_py(key)?.is_some_and(|e| e.is_async)),
            Err(_) => Ok(false),
        }
    }

    /// Execute a single named action synchronously.
    ///
    /// Raises ActionNotFoundError if the name is not registered; with
    /// `raise_on_error=True` the action's exception is raised instead of returned in a
    /// failed result.
    #[pyo3(signature = (name, context, raise_on_error = None))]
    fn execute(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
        raise_on_error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<ActionResult>> {
        let raise_on_error = truthy(raise_on_error)?;
        let key = name.cast::<PyString>().map_err(|_| type_error("action name", "a str", name))?;
        // Borrowed from the table through a guard: cloning the entry's Arc would change
        // a count every thread calling this action shares.
        let table = self.contents.table.load();
        let Some(entry) = table.entries.get(name_key(key)?.as_ref()) else {
            return Err(action_not_found(py, format!("Action '{key}' not found"), name));
        };
        match Self::call_sync(py, entry, context)? {
            Called::Ok(value) => Ok(Res::succeeded(name.clone().unbind(), value).into_object(py)?),
            Called::Failed(err) if raise_on_error => Err(err),
            Called::Failed(err) => {
                Ok(Res::failed(name.clone().unbind(), err.into_value(py).into_any()).into_object(py)?)
            }
        }
    }

    /// Execute several actions in order; a missing name gives a failed result. With
    /// `stop_on_error=True`, halt after the first failure.
    #[pyo3(signature = (actions, context, stop_on_error = None))]
    fn execute_all(
        &self,
        py: Python<'_>,
        actions: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
        stop_on_error: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyList>> {
        let stop_on_error = truthy(stop_on_error)?;
        let out = PyList::empty(py);
        for name in actions.try_iter()? {
            let name = name?;
            let result = match self.get_entry(&name) {
                Ok(entry) => Self::execute_entry(py, &entry, &name, context)?,
                Err(err) if err.is_instance(py, defs(py)?.action_not_found.bind(py)) => {
                    Res::failed(name.clone().unbind(), err.into_value(py).into_any())
                }
                Err(err) => return Err(err),
            };
            let failed = !result.ok();
            out.append(result.into_object(py)?)?;
            if failed && stop_on_error {
                break;
            }
        }
        Ok(out.unbind())
    }

    /// All registered action names, in registration order.
    fn list_actions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.contents.table.load().entries.values().map(|e| e.name.clone_ref(py)))
    }

    /// Remove all registered actions.
    fn clear(&self) {
        let ((), previous) = self.write(|table| table.clear());
        drop(previous);
    }

    fn __len__(&self) -> usize {
        self.contents.table.load().entries.len()
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.has(name)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // Contents shared with a copy are not reported: the collector must see each
        // reference once, from its one owner. (A cycle through shared contents is
        // therefore not collected while the copies live.)
        if Arc::strong_count(&self.contents) != 1 {
            return Ok(());
        }
        for entry in self.contents.table.load().entries.values() {
            visit.call(&entry.func)?;
            visit.call(&entry.metadata)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        // Runs inside the garbage collector. Contents shared with a copy that is still
        // alive are left alone; contents only this registry holds are swapped out
        // without the writer lock (nothing else can reach an object being collected).
        if Arc::strong_count(&self.contents) == 1 {
            let ((), previous) = self.publish(Table::new(Entries::default()), ());
            drop(previous);
        }
    }
}

/// pystator 0.0.47's registry (`ferrostator.v47.ActionRegistry`): the same core, with
/// that contract (re-registering replaces; params go to the actions as keyword
/// arguments, per their signature).
#[pyclass(name = "RegistryCore47", module = "ferrostator._core", extends = Registry, frozen, subclass)]
pub struct Registry47;

#[pymethods]
impl Registry47 {
    #[new]
    #[pyo3(signature = (*_args, **kwargs))]
    fn py_new(_args: &Bound<'_, pyo3::types::PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Registry::new_sharing(kwargs, Contract::V47)).add_subclass(Registry47)
    }

    /// True if the named action accepts keyword arguments (keyword-only or
    /// `**kwargs` parameters): its spec's params are passed as `func(ctx, **params)`.
    fn accepts_kwargs(slf: &Bound<'_, Self>, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        match name.cast::<PyString>() {
            Ok(key) => Ok(slf.as_super().get().lookup_py(key)?.is_some_and(|e| e.accepts_kwargs)),
            Err(_) => Ok(false),
        }
    }
}

/// Copies `source.__dict__` (when the type has one) into `target`, deeply when
/// `deep` gives `copy.deepcopy` and the memo.
fn copy_instance_dict(
    source: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    deep: Option<(&Bound<'_, PyAny>, &Bound<'_, PyAny>)>,
) -> PyResult<()> {
    let py = source.py();
    let Some(state) = source.getattr_opt(pyo3::intern!(py, "__dict__"))? else {
        return Ok(());
    };
    let Ok(state) = state.cast_into::<PyDict>() else {
        return Ok(());
    };
    if state.is_empty() {
        return Ok(());
    }
    let state = match deep {
        Some((deepcopy, memo)) => deepcopy.call1((state, memo))?,
        None => state.copy()?.into_any(),
    };
    target.getattr(pyo3::intern!(py, "__dict__"))?.call_method1(pyo3::intern!(py, "update"), (state,))?;
    Ok(())
}

/// The registry an executor looks its actions up in: ours (lock-free table reads), or
/// any other object with the registry's public methods — pystator's own
/// `ActionRegistry` — asked through `has`, `get` and `is_async`.
pub enum Handle {
    Ours(Py<Registry>),
    Foreign(Py<PyAny>),
}

impl Handle {
    /// Accepts ours, or an object with callable `has`, `get` and `is_async`.
    pub fn from_object(registry: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(ours) = registry.cast::<Registry>() {
            return Ok(Handle::Ours(ours.clone().unbind()));
        }
        let py = registry.py();
        for method in [pyo3::intern!(py, "has"), pyo3::intern!(py, "get"), pyo3::intern!(py, "is_async")] {
            let callable = matches!(registry.getattr_opt(method), Ok(Some(m)) if m.is_callable());
            if !callable {
                return Err(PyTypeError::new_err(format!(
                    "registry must be a ferrostator.actions.ActionRegistry or an object with has(), get() and \
                     is_async() methods (such as pystator.actions.ActionRegistry), got {}",
                    type_name(registry)
                )));
            }
        }
        Ok(Handle::Foreign(registry.clone().unbind()))
    }

    pub fn object(&self, py: Python<'_>) -> Py<PyAny> {
        match self {
            Handle::Ours(reg) => reg.clone_ref(py).into_any(),
            Handle::Foreign(reg) => reg.clone_ref(py),
        }
    }

    pub fn clone_ref(&self, py: Python<'_>) -> Self {
        match self {
            Handle::Ours(reg) => Handle::Ours(reg.clone_ref(py)),
            Handle::Foreign(reg) => Handle::Foreign(reg.clone_ref(py)),
        }
    }

    /// The entry for `name`: ActionNotFoundError from ours, whatever `get` raises from
    /// a foreign registry.
    pub fn get_entry(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Arc<Entry>> {
        match self {
            Handle::Ours(reg) => reg.get().get_entry(name),
            Handle::Foreign(reg) => foreign_entry(reg.bind(py), name),
        }
    }

    /// `registry.has(name)`.
    pub fn has(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<bool> {
        match self {
            Handle::Ours(reg) => Ok(reg.get().lookup_py(name)?.is_some()),
            Handle::Foreign(reg) => reg.bind(py).call_method1(pyo3::intern!(py, "has"), (name,))?.is_truthy(),
        }
    }
}

/// Looks `name` up in a foreign registry: `get(name)` and `is_async(name)`, and
/// `accepts_kwargs(name)` when it has that method (pystator 0.0.47's registry); a
/// registry without it is asked nothing more and its actions take no keyword params.
pub fn foreign_entry(registry: &Bound<'_, PyAny>, name: &Bound<'_, PyAny>) -> PyResult<Arc<Entry>> {
    let py = registry.py();
    let key = name.cast::<PyString>().map_err(|_| type_error("action name", "a str", name))?;
    let func = registry.call_method1(pyo3::intern!(py, "get"), (key,))?;
    let is_async = registry.call_method1(pyo3::intern!(py, "is_async"), (key,))?.is_truthy()?;
    let accepts_kwargs = match registry.getattr_opt(pyo3::intern!(py, "accepts_kwargs"))? {
        Some(method) if method.is_callable() => method.call1((key,))?.is_truthy()?,
        _ => false,
    };
    Ok(Arc::new(Entry {
        name: key.clone().unbind(),
        func: func.unbind(),
        metadata: py.None(),
        is_async,
        accepts_kwargs,
    }))
}

/// `registry.has(name)` then [`foreign_entry`]: None when not registered.
pub fn foreign_lookup(registry: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<Option<Arc<Entry>>> {
    let py = registry.py();
    if !registry.call_method1(pyo3::intern!(py, "has"), (name,))?.is_truthy()? {
        return Ok(None);
    }
    foreign_entry(registry, name.as_any()).map(Some)
}
