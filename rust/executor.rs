//! `ActionExecutor`'s core: runs the actions of transition results with pystator's
//! semantics (effects, missing actions, strict mode, params, retries, stop_on_error).
//! The sync paths live here entirely; the async paths are driven by `driver.rs`
//! and fanned out by the Python layer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::attempt::{
    after_attempt, backoff_delay, call_with_kwargs, finish_params, kwargs_refused, set_params, Next, Outcome,
};
use crate::contract::{call_prelude, Contract, MAX_BRANCH_DEPTH};
use crate::defs::defs;
use crate::effects;
use crate::registry::{foreign_lookup, Called, Entry, Handle, Registry, Snapshot};
use crate::results::{result_succeeded, ActionResult, ExecutionResult, Mode, Res};
use crate::spec::{spec_list, ActionSpec47, Job, TransitionView, EFFECT_PREFIX};
use crate::util::{action_not_found, close_iter, is_awaitable, is_exception, log, type_error};
use crate::util::{name_key, now_us};

/// Executes actions from transition results.
#[pyclass(name = "ExecutorCore", module = "ferrostator._core", frozen, subclass, weakref)]
pub struct Executor {
    registry: ArcSwapOption<Handle>,
    /// Bumped after every change of `registry`.
    registry_generation: AtomicU64,
    default_mode: ArcSwapOption<Py<PyAny>>,
    stop_on_error: AtomicBool,
    log_execution: AtomicBool,
    strict: AtomicBool,
    /// The pystator release whose semantics this executor follows.
    contract: Contract,
}

/// A job after the registry was consulted.
pub enum Prepared<'v> {
    /// Finished without calling anything: an effect or a skipped (missing) action.
    Done(Res),
    /// Registered: run it.
    Run(&'v Arc<Entry>),
    /// One of pystator 0.0.47's built-in actions (`_http`, `_code`, `_branch`).
    Builtin,
}

/// The registry as a run of actions reads it: the executor's registry and a snapshot
/// of its table, reused from one action to the next for as long as neither changed
/// (two atomic loads per action, rather than loading both again and cloning the
/// entry). An action that registers, unregisters or swaps the executor's registry is
/// seen by the very next lookup, as in pystator. A foreign registry (pystator's) is
/// asked at every lookup; `fetched` holds the entry it gave last. The registry and its
/// table are held through arc-swap guards, so taking a view changes no count that
/// other threads share.
pub struct RegistryView {
    generation: u64,
    handle: arc_swap::Guard<Option<Arc<Handle>>>,
    /// Our registry's table (None for a foreign registry).
    table: Option<Snapshot>,
    fetched: Option<Arc<Entry>>,
}

impl Executor {
    /// The executor's registry.
    pub fn handle(&self, py: Python<'_>) -> PyResult<Handle> {
        match self.registry.load().as_ref() {
            Some(reg) => Ok(reg.clone_ref(py)),
            None => Err(cleared()),
        }
    }

    fn registry_view(&self) -> PyResult<RegistryView> {
        // The generation first: a registry stored in between is newer than the
        // generation says, and the view is merely taken once more.
        let generation = self.registry_generation.load(Ordering::Acquire);
        let handle = self.registry.load();
        let table = match handle.as_deref() {
            Some(Handle::Ours(registry)) => Some(registry.get().snapshot()),
            Some(Handle::Foreign(_)) => None,
            None => return Err(cleared()),
        };
        Ok(RegistryView { generation, handle, table, fetched: None })
    }

    fn set_registry_to(&self, registry: Option<Handle>) {
        self.registry.store(registry.map(Arc::new));
        self.registry_generation.fetch_add(1, Ordering::Release);
    }

    /// `view`, created or refreshed when the executor's registry or the registry's
    /// table changed since it was taken.
    fn current_view<'v>(&self, view: &'v mut Option<RegistryView>) -> PyResult<&'v mut RegistryView> {
        let current = view.as_ref().is_some_and(|v| {
            self.registry_generation.load(Ordering::Acquire) == v.generation
                && match (v.handle.as_deref(), &v.table) {
                    (Some(Handle::Ours(registry)), Some(table)) => registry.get().is_current(table),
                    _ => true,
                }
        });
        if !current {
            // The old view is dropped here, with no borrow of it alive.
            *view = Some(self.registry_view()?);
        }
        view.as_mut().ok_or_else(cleared)
    }

    pub fn contract(&self) -> Contract {
        self.contract
    }

    /// Whether this executor sets `context["_action_params"]` for the job (the
    /// seed contract; 0.0.47's passes params as keyword arguments).
    pub fn sets_params(&self, job: &Job<'_, '_>) -> bool {
        job.params.is_some() && !self.contract.params_as_kwargs()
    }

    /// Whether the job takes pystator 0.0.47's keyword params path.
    pub fn kwargs_path(&self, job: &Job<'_, '_>) -> bool {
        job.params.is_some() && self.contract.params_as_kwargs()
    }

    /// The arguments of the prelude's built-in action runners.
    pub fn builtin_args<'py>(
        slf: &Bound<'py, Self>,
        job: &Job<'_, 'py>,
        ctx: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let py = slf.py();
        let source = job.spec_object().ok_or_else(|| PyRuntimeError::new_err("a built-in action needs its spec"))?;
        PyTuple::new(
            py,
            [
                slf.clone().into_any(),
                source.clone(),
                ctx.clone(),
                job.depth.into_pyobject(py)?.into_any(),
                MAX_BRANCH_DEPTH.into_pyobject(py)?.into_any(),
                py.get_type::<ActionSpec47>().into_any(),
            ],
        )
    }

    pub fn stop_on_error(&self) -> bool {
        self.stop_on_error.load(Ordering::Relaxed)
    }

    pub fn log_execution(&self) -> bool {
        self.log_execution.load(Ordering::Relaxed)
    }

    /// Effects run here; a missing action is skipped (logged) or, in strict mode,
    /// raises ActionNotFoundError.
    pub fn prepare<'v>(
        &self,
        py: Python<'_>,
        job: &Job<'_, '_>,
        ctx: &Bound<'_, PyAny>,
        view: &'v mut Option<RegistryView>,
    ) -> PyResult<Prepared<'v>> {
        let name: &Bound<'_, PyString> = &job.name;
        if let Some(when) = &job.when {
            if let Some(skipped) = when_false(py, name, when, ctx)? {
                return Ok(Prepared::Done(skipped));
            }
        }
        let computed;
        let known = job.known_key();
        let key: &[u8] = match known {
            Some((key, _)) => key,
            None => {
                computed = name_key(name)?;
                &computed
            }
        };
        if self.contract.is_builtin_action(key) && (job.spec.is_some() || job.source.is_some()) {
            return Ok(Prepared::Builtin);
        }
        if let Some(effect) = key.strip_prefix(EFFECT_PREFIX.as_bytes()) {
            let params = job.params.as_deref();
            // The key is a str's UTF-8 (or, with lone surrogates, no effect's name).
            let effect = std::str::from_utf8(effect).map_or_else(|_| String::from_utf8_lossy(effect), Into::into);
            return Ok(Prepared::Done(effects::run(py, name.as_any(), &effect, params, ctx, self.contract)?));
        }
        let RegistryView { handle, table, fetched, .. } = self.current_view(view)?;
        let found = match (table, handle.as_deref()) {
            (Some(table), _) => match known {
                Some((_, remembered)) => table.get_remembered(key, remembered),
                None => table.get(key),
            },
            (None, Some(Handle::Foreign(registry))) => {
                *fetched = foreign_lookup(registry.bind(py), name)?;
                fetched.as_ref()
            }
            (None, _) => None,
        };
        match found {
            Some(entry) => Ok(Prepared::Run(entry)),
            None => self.missing(py, name).map(Prepared::Done),
        }
    }

    /// A job whose action is not registered: skipped (logged), or, in strict mode,
    /// ActionNotFoundError.
    fn missing(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<Res> {
        if self.strict.load(Ordering::Relaxed) {
            return Err(action_not_found(py, format!("Action '{name}' not registered (strict mode)"), name.as_any()));
        }
        if self.log_execution() {
            log(
                py,
                "warning",
                PyTuple::new(
                    py,
                    [intern!(py, "Action '%s' not registered, skipping").clone().into_any(), name.clone().into_any()],
                )?,
            )?;
        }
        Ok(Res::skipped(name.clone().into_any().unbind(), intern!(py, "not_registered").clone().into_any().unbind()))
    }

    /// The entry for a retry attempt: looked up again, as the action may have been
    /// unregistered or replaced meanwhile.
    pub fn entry_for_attempt(
        &self,
        py: Python<'_>,
        job: &Job<'_, '_>,
        first: Option<Arc<Entry>>,
    ) -> PyResult<Arc<Entry>> {
        if let Some(entry) = first {
            return Ok(entry);
        }
        self.handle(py)?.get_entry(py, job.name.as_any())
    }

    /// One synchronous attempt: set params, call, pop params. `first` is the entry
    /// prepared for the first attempt; later attempts look the action up again.
    fn attempt_sync(
        &self,
        py: Python<'_>,
        job: &Job<'_, '_>,
        first: Option<&Entry>,
        ctx: &Bound<'_, PyAny>,
    ) -> PyResult<Outcome> {
        let name = job.name.as_any();
        if self.kwargs_path(job) {
            return self.attempt_kwargs_sync(py, job, first, ctx);
        }
        // Setting the key is outside the `try/finally` that pops it: a context that
        // refuses the key is not asked to pop it.
        if let Some(params) = &job.params {
            if let Some(err) = set_params(ctx, params) {
                return Ok(Outcome::Raised(err));
            }
        }
        let outcome = (|| {
            let again: Arc<Entry>;
            let entry = match first {
                Some(entry) => entry,
                None => match self.entry_for_attempt(py, job, None) {
                    Ok(entry) => {
                        again = entry;
                        &*again
                    }
                    Err(err) => return Ok(Outcome::Raised(err)),
                },
            };
            Ok(match Registry::call_sync(py, entry, ctx)? {
                Called::Ok(value) => Outcome::Result(Res::succeeded(name.clone().unbind(), value)),
                Called::Failed(err) => {
                    Outcome::Result(Res::failed(name.clone().unbind(), err.into_value(py).into_any()))
                }
            })
        })();
        finish_params(py, ctx, job.params.is_some(), outcome)
    }

    /// One synchronous attempt on pystator 0.0.47's keyword params path: the action is
    /// called `func(ctx, **params)` if its signature takes keyword arguments; an async
    /// action, or an awaitable returned, fails at once (no retry, nothing logged); an
    /// exception raised is logged with its traceback and retried when transient.
    fn attempt_kwargs_sync(
        &self,
        py: Python<'_>,
        job: &Job<'_, '_>,
        first: Option<&Entry>,
        ctx: &Bound<'_, PyAny>,
    ) -> PyResult<Outcome> {
        let name: &Bound<'_, PyString> = &job.name;
        let params = match &job.params {
            Some(params) => params,
            None => return Err(PyRuntimeError::new_err("the keyword params path needs params")),
        };
        let again: Arc<Entry>;
        let entry = match first {
            Some(entry) => entry,
            None => match self.entry_for_attempt(py, job, None) {
                Ok(entry) => {
                    again = entry;
                    &*again
                }
                Err(err) => return Ok(Outcome::Raised(err)),
            },
        };
        if !entry.accepts_kwargs {
            return Ok(Outcome::Result(kwargs_refused(py, name)));
        }
        let fail_now = |message: String| {
            let err = PyRuntimeError::new_err(message);
            Outcome::Final(Res::failed(name.clone().into_any().unbind(), err.into_value(py).into_any()))
        };
        if entry.is_async {
            return Ok(fail_now(format!("Action '{name}' is async and cannot be executed synchronously")));
        }
        if let Err(err) = crate::stack::check() {
            return Ok(Outcome::Raised(err));
        }
        let value = match call_with_kwargs(entry.func.bind(py), ctx, params) {
            Ok(value) => value,
            Err(err) if is_exception(py, &err) => return Ok(Outcome::Raised(err)),
            Err(err) => return Err(err),
        };
        if is_awaitable(&value)? {
            if let Err(err) = close_iter(&value) {
                return if is_exception(py, &err) { Ok(Outcome::Raised(err)) } else { Err(err) };
            }
            return Ok(fail_now(format!("Action '{name}' returned an awaitable in synchronous execution")));
        }
        Ok(Outcome::Result(Res::succeeded(name.clone().into_any().unbind(), value.unbind())))
    }

    /// Runs one job synchronously with retries (`time.sleep` between attempts, looked
    /// up at each sleep so tests can patch it).
    pub fn run_sync<'py>(
        slf: &Bound<'py, Self>,
        job: &Job<'_, 'py>,
        ctx: &Bound<'py, PyAny>,
        view: &mut Option<RegistryView>,
    ) -> PyResult<Res> {
        let py = slf.py();
        let this = slf.get();
        let mut first = match this.prepare(py, job, ctx, view)? {
            Prepared::Done(result) => return Ok(result),
            Prepared::Run(entry) => Some(&**entry),
            Prepared::Builtin => {
                let out = call_prelude(py, "_v47_builtin_sync", Self::builtin_args(slf, job, ctx)?)?;
                return Res::from_object(&out);
            }
        };
        let mut attempt = 0u64;
        loop {
            if attempt > 0 {
                sleep_before(py, job, attempt)?;
            }
            let outcome = this.attempt_sync(py, job, first.take(), ctx)?;
            match after_attempt(py, job, attempt, outcome, this.log_execution())? {
                Next::Done(result) => return Ok(result),
                Next::Retry => attempt += 1,
            }
        }
    }

    /// Runs specs in order (the runs of specs one after the other), honouring
    /// stop_on_error.
    fn run_specs<'py>(
        slf: &Bound<'py, Self>,
        runs: &[&[Bound<'py, PyAny>]],
        ctx: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Res>> {
        let mut out = Vec::with_capacity(runs.iter().map(|specs| specs.len()).sum());
        let mut view = None;
        let contract = slf.get().contract;
        for spec in runs.iter().flat_map(|specs| specs.iter()) {
            let job = Job::from_spec(spec, false, contract)?;
            let result = Self::run_sync(slf, &job, ctx, &mut view)?;
            let stop = !result.ok() && slf.get().stop_on_error();
            out.push(result);
            if stop {
                break;
            }
        }
        Ok(out)
    }

    pub fn execute_transition<'py>(
        slf: &Bound<'py, Self>,
        tr: &Bound<'py, PyAny>,
        ctx: &Bound<'py, PyAny>,
    ) -> PyResult<Py<ExecutionResult>> {
        let py = slf.py();
        let started = now_us();
        let view = TransitionView::new(tr);
        let results = if view.success()? { Self::run_specs(slf, &view.all_specs()?.runs(), ctx)? } else { Vec::new() };
        ExecutionResult::finished(py, tr.clone().unbind(), Mode::Sequential, results, started, slf.get().contract)
    }

    /// `execute_action_spec` with the number of enclosing `_branch` actions.
    pub fn execute_action_spec_at<'py>(
        slf: &Bound<'py, Self>,
        action: &Bound<'py, PyAny>,
        context: &Bound<'py, PyAny>,
        depth: i64,
    ) -> PyResult<Py<ActionResult>> {
        let mut job = Job::from_spec(action, false, slf.get().contract)?;
        job.depth = depth;
        Self::run_sync(slf, &job, context, &mut None)?.into_object(slf.py())
    }

    fn with_contract(
        py: Python<'_>,
        contract: Contract,
        registry: &Bound<'_, PyAny>,
        stop_on_error: Option<&Bound<'_, PyAny>>,
        log_execution: Option<&Bound<'_, PyAny>>,
        default_mode: Option<Py<PyAny>>,
        strict: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let flag = |value: Option<&Bound<'_, PyAny>>, default: bool| value.map_or(Ok(default), |v| v.is_truthy());
        let default_mode = match default_mode {
            Some(mode) => mode,
            None => defs(py)?.mode_sequential.clone_ref(py),
        };
        Ok(Self {
            registry: ArcSwapOption::from_pointee(check_registry(registry, contract)?),
            registry_generation: AtomicU64::new(0),
            default_mode: ArcSwapOption::from_pointee(default_mode),
            stop_on_error: AtomicBool::new(flag(stop_on_error, false)?),
            log_execution: AtomicBool::new(flag(log_execution, true)?),
            strict: AtomicBool::new(flag(strict, false)?),
            contract,
        })
    }
}

/// pystator 0.0.47's `when`: the skipped result when it is false, None when it holds.
fn when_false(
    py: Python<'_>,
    name: &Bound<'_, PyString>,
    when: &Bound<'_, PyAny>,
    ctx: &Bound<'_, PyAny>,
) -> PyResult<Option<Res>> {
    let native = match when.is_exact_instance_of::<PyString>() {
        true => crate::expr::contract_bool(py, Contract::V47, when, ctx)?,
        false => None,
    };
    let holds = match native {
        Some(holds) => holds,
        None => call_prelude(py, "_v47_evaluate_when", PyTuple::new(py, [when, ctx])?)?.is_truthy()?,
    };
    if holds {
        return Ok(None);
    }
    let reason = PyString::new(py, "when_condition_false").into_any().unbind();
    Ok(Some(Res::skipped(name.clone().into_any().unbind(), reason)))
}

/// `time.sleep` for the backoff before a retry (looked up at each sleep so tests can
/// patch it).
fn sleep_before(py: Python<'_>, job: &Job<'_, '_>, attempt: u64) -> PyResult<()> {
    let delay = backoff_delay(py, job, attempt)?;
    defs(py)?.time_module.bind(py).getattr(pyo3::intern!(py, "sleep"))?.call1((delay,))?;
    Ok(())
}

#[cold]
fn cleared() -> PyErr {
    PyRuntimeError::new_err("this executor has no registry (it was cleared)")
}

/// The registry: ours must be of the executor's contract (a 0.0.47 registry inspects
/// signatures for keyword params, a seed one does not); any other object with
/// `has`, `get` and `is_async` (pystator's own ActionRegistry) is asked at each lookup.
fn check_registry(registry: &Bound<'_, PyAny>, contract: Contract) -> PyResult<Handle> {
    if let Ok(ours) = registry.cast::<Registry>() {
        let theirs = ours.get().contract();
        if theirs != contract {
            let expected = match contract {
                Contract::Seed => "a ferrostator.actions ActionRegistry",
                Contract::V47 => "a ferrostator.v47 ActionRegistry",
            };
            return Err(PyTypeError::new_err(format!(
                "registry must be {expected} (pystator {} contract), got one of pystator {}'s contract",
                contract.version(),
                theirs.version()
            )));
        }
    }
    Handle::from_object(registry)
}

#[pymethods]
impl Executor {
    #[new]
    #[pyo3(signature = (registry, stop_on_error = None, log_execution = None, default_mode = None, strict = None))]
    #[pyo3(
        text_signature = "(registry, stop_on_error=False, log_execution=True, default_mode=ExecutionMode.SEQUENTIAL, strict=False)"
    )]
    fn py_new(
        py: Python<'_>,
        registry: &Bound<'_, PyAny>,
        stop_on_error: Option<&Bound<'_, PyAny>>,
        log_execution: Option<&Bound<'_, PyAny>>,
        default_mode: Option<Py<PyAny>>,
        strict: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Self::with_contract(py, Contract::Seed, registry, stop_on_error, log_execution, default_mode, strict)
    }

    /// The ActionRegistry the actions are looked up in.
    #[getter(registry)]
    fn get_registry(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.handle(py)?.object(py))
    }

    #[setter(registry)]
    fn set_registry(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set_registry_to(Some(check_registry(value, self.contract)?));
        Ok(())
    }

    /// Halt batch execution on the first failure.
    #[getter(stop_on_error)]
    fn get_stop_on_error(&self) -> bool {
        self.stop_on_error()
    }

    #[setter(stop_on_error)]
    fn set_stop_on_error(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.stop_on_error.store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    /// Log skipped actions, permanent errors and exceptions.
    #[getter(log_execution)]
    fn get_log_execution(&self) -> bool {
        self.log_execution()
    }

    #[setter(log_execution)]
    fn set_log_execution(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.log_execution.store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    /// Raise ActionNotFoundError for missing actions instead of skipping them.
    #[getter(strict)]
    fn get_strict(&self) -> bool {
        self.strict.load(Ordering::Relaxed)
    }

    #[setter(strict)]
    fn set_strict(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.strict.store(value.is_truthy()?, Ordering::Relaxed);
        Ok(())
    }

    /// Default execution mode for batches.
    #[getter(default_mode)]
    fn get_default_mode(&self, py: Python<'_>) -> Py<PyAny> {
        match self.default_mode.load_full() {
            Some(mode) => mode.clone_ref(py),
            None => py.None(),
        }
    }

    #[setter(default_mode)]
    fn set_default_mode(&self, value: Py<PyAny>) {
        self.default_mode.store(Some(Arc::new(value)));
    }

    /// Execute all actions of a transition result sequentially. A failed transition
    /// executes nothing.
    fn execute(
        slf: &Bound<'_, Self>,
        transition_result: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
    ) -> PyResult<Py<ExecutionResult>> {
        Self::execute_transition(slf, transition_result, context)
    }

    /// Execute many (transition_result, context) pairs in order, in one call.
    fn execute_many(slf: &Bound<'_, Self>, items: &Bound<'_, PyAny>) -> PyResult<Py<PyList>> {
        let py = slf.py();
        let out = PyList::empty(py);
        for item in items.try_iter()? {
            let item = item?;
            let pair = || type_error("execute_many item", "a (transition_result, context) pair", &item);
            let mut parts = item.try_iter().map_err(|_| pair())?;
            let (Some(tr), Some(ctx), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(pair());
            };
            let (tr, ctx) = (tr?, ctx?);
            out.append(Self::execute_transition(slf, &tr, &ctx)?)?;
        }
        Ok(out.unbind())
    }

    /// Execute specific actions by name sequentially (no params, no retries).
    fn execute_specific(
        slf: &Bound<'_, Self>,
        action_names: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyList>> {
        let py = slf.py();
        let out = PyList::empty(py);
        let mut view = None;
        for name in action_names.try_iter()? {
            let name = name?;
            let job = Job::from_name(&name)?;
            out.append(Self::run_sync(slf, &job, context, &mut view)?.into_object(py)?)?;
        }
        Ok(out.unbind())
    }

    /// Names of the transition's actions that are not registered (effects excluded).
    fn validate_actions_exist(&self, py: Python<'_>, transition_result: &Bound<'_, PyAny>) -> PyResult<Py<PyList>> {
        let registry = self.handle(py)?;
        let missing = PyList::empty(py);
        for spec in TransitionView::new(transition_result).all_specs()?.iter() {
            let job = Job::from_spec(spec, false, self.contract)?;
            let name: &Bound<'_, PyString> = &job.name;
            let key = name_key(name)?;
            let registered = key.starts_with(EFFECT_PREFIX.as_bytes())
                || self.contract.is_builtin_action(&key)
                || registry.has(py, name)?;
            if !registered {
                missing.append(name)?;
            }
        }
        Ok(missing.unbind())
    }

    /// Execute a single ActionSpec synchronously (params and retries apply).
    fn execute_action_spec(
        slf: &Bound<'_, Self>,
        action: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
    ) -> PyResult<Py<ActionResult>> {
        Self::execute_action_spec_at(slf, action, context, 0)
    }

    /// Execute several ActionSpecs sequentially, honouring stop_on_error.
    fn execute_action_specs(
        slf: &Bound<'_, Self>,
        actions: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyList>> {
        let py = slf.py();
        let specs = spec_list("actions", actions)?;
        let results = Self::run_specs(slf, &[&specs], context)?;
        let objects = results.into_iter().map(|r| r.into_object(py)).collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, objects)?.unbind())
    }

    /// True if any of the results failed (used by the phased fan-out).
    #[staticmethod]
    fn _any_failed(results: &Bound<'_, PyAny>) -> PyResult<bool> {
        for item in results.try_iter()? {
            if !result_succeeded(&item?)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(reg) = self.registry.load().as_ref() {
            match &**reg {
                Handle::Ours(reg) => visit.call(reg)?,
                Handle::Foreign(reg) => visit.call(reg)?,
            }
        }
        if let Some(mode) = self.default_mode.load().as_ref() {
            visit.call(&**mode)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.set_registry_to(None);
        self.default_mode.store(None);
    }
}

/// pystator 0.0.47's executor core (`ferrostator.v47.ActionExecutor`): the same
/// core, with that contract.
#[pyclass(name = "ExecutorCore47", module = "ferrostator._core", extends = Executor, frozen, subclass)]
pub struct Executor47;

#[pymethods]
impl Executor47 {
    #[new]
    #[pyo3(signature = (registry, stop_on_error = None, log_execution = None, default_mode = None, strict = None))]
    #[pyo3(
        text_signature = "(registry, stop_on_error=False, log_execution=True, default_mode=ExecutionMode.SEQUENTIAL, strict=False)"
    )]
    fn py_new(
        py: Python<'_>,
        registry: &Bound<'_, PyAny>,
        stop_on_error: Option<&Bound<'_, PyAny>>,
        log_execution: Option<&Bound<'_, PyAny>>,
        default_mode: Option<Py<PyAny>>,
        strict: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let core =
            Executor::with_contract(py, Contract::V47, registry, stop_on_error, log_execution, default_mode, strict)?;
        Ok(PyClassInitializer::from(core).add_subclass(Executor47))
    }

    /// Execute a single ActionSpec synchronously: its `when`, built-in actions,
    /// effects, keyword params and retries apply. `branch_enclosing_depth` counts the
    /// `_branch` actions around it (at most MAX_BRANCH_DEPTH).
    #[pyo3(signature = (action, context, *, branch_enclosing_depth = crate::contract::zero()))]
    #[pyo3(text_signature = "($self, action, context, *, branch_enclosing_depth=0)")]
    fn execute_action_spec(
        slf: &Bound<'_, Self>,
        action: &Bound<'_, PyAny>,
        context: &Bound<'_, PyAny>,
        branch_enclosing_depth: Py<PyAny>,
    ) -> PyResult<Py<ActionResult>> {
        let depth = crate::contract::depth_arg(branch_enclosing_depth.bind(slf.py()))?;
        Executor::execute_action_spec_at(slf.as_super(), action, context, depth)
    }
}
