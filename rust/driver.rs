//! The async paths without a Python frame per action.
//!
//! A [`Driver`] runs a list of actions the way pystator's `_async_execute_single`
//! loop does, but drives each action's awaitable itself (`PyIter_Send`), so an async
//! action that completes without suspending costs no Task, no extra coroutine and no
//! StopIteration. When an action really suspends, the driver is wrapped in a
//! [`Run`] — an object implementing the coroutine protocol (`send`, `throw`, `close`,
//! `__await__`) — that the awaiting coroutine or an asyncio Task resumes; it forwards
//! every value and exception to the action exactly as `yield from` would.
//!
//! Params isolation (exact dict contexts): each attempt has a [`View`] of the params
//! key — its params, or for an item of a batch without params the key's value when
//! the batch began — entered around every step of the action's code, whoever takes
//! the step (the driver, or the Task `asyncio.wait_for` runs a timed attempt in), and
//! suspended when the action yields. Concurrent actions sharing one context therefore
//! each see their own view. An action with params removes the key when it ends
//! (pystator's pop) — except an item of a batch, which leaves its view as any item
//! does: the batch removes the key once, when it ends, in the flow of whoever awaited
//! it (see [`BatchKey`]). So a batch's effect on the key stays inside the action that
//! ran it, whenever its items end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTimeoutError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::attempt::{
    after_attempt, backoff_delay, call_with_kwargs, finish_params, kwargs_refused, pop_params, set_params, Next,
    Outcome,
};
use crate::contract::call_prelude;
use crate::defs::defs;
use crate::executor::{Executor, Prepared};
use crate::registry::{Entry, Handle, Registry};
use crate::results::{complete, ExecutionResult, Res, Results};
use crate::spec::{Job, OwnedJob};
use crate::util::{
    await_iter, call_one, close_iter, is_awaitable, is_exception, params_key, send, short_type_name, throw, Sent,
};

/// How the awaiting side resumes us.
pub enum Input<'py> {
    Send(Bound<'py, PyAny>),
    Throw(Bound<'py, PyAny>),
}

/// What a resumption produced.
pub enum Step {
    Yield(Py<PyAny>),
    Return(Py<PyAny>),
}

// ---------------------------------------------------------------------------
// The params key, scoped to the action that runs
// ---------------------------------------------------------------------------

/// A value of the params key (None: absent).
type Prior = Option<Py<PyAny>>;

pub fn read_key(ctx: &Bound<'_, PyAny>) -> PyResult<Prior> {
    let py = ctx.py();
    let key = params_key(py);
    match ctx.cast_exact::<PyDict>() {
        Ok(d) => Ok(d.get_item(key)?.map(Bound::unbind)),
        Err(_) => match ctx.get_item(key) {
            Ok(v) => Ok(Some(v.unbind())),
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyKeyError>(py) => Ok(None),
            Err(err) => Err(err),
        },
    }
}

/// Makes the key hold `want`, knowing it holds `current` (no write when it already does).
fn write_key(ctx: &Bound<'_, PyAny>, current: &Prior, want: &Prior) -> PyResult<()> {
    match (current, want) {
        (None, None) => Ok(()),
        (Some(c), Some(w)) if c.is(w) => Ok(()),
        (_, Some(value)) => match set_params(ctx, value.bind(ctx.py())) {
            Some(err) => Err(err),
            None => Ok(()),
        },
        (Some(_), None) => pop_params(ctx),
    }
}

/// Whether a context gets params isolation: exact dicts only, where reading and
/// writing the key has no observable side effect. Other contexts (dict subclasses,
/// mappings) see exactly pystator's writes: set before the call, pop after it.
pub fn isolates(ctx: &Bound<'_, PyAny>) -> bool {
    ctx.is_exact_instance_of::<PyDict>()
}

/// One action's view of the params key in a context that isolates it. Whatever runs
/// the action's code enters the view first and suspends it when the action yields:
/// the driver around each step of the awaitable it drives, and an [`Attempt`] around
/// each of its own steps, whoever steps it (the driver through `asyncio.wait_for`, or
/// the Task wait_for makes on Python < 3.12). So while the action runs the key holds
/// its view (its params, or whatever it changed them to), and at any other time what
/// it held outside the action — whatever the actions around it do.
struct View {
    /// The action's view while it is not running.
    own: Prior,
    /// What the key held when the view was entered.
    prior: Prior,
    entered: bool,
}

impl View {
    fn new(own: Py<PyAny>) -> Self {
        Self { own: Some(own), prior: None, entered: false }
    }

    fn enter(&mut self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.entered {
            return Ok(());
        }
        let prior = read_key(ctx)?;
        write_key(ctx, &prior, &self.own)?;
        self.prior = prior;
        self.entered = true;
        Ok(())
    }

    /// The action yielded: its view is kept for its next step.
    fn suspend(&mut self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.entered {
            return Ok(());
        }
        self.entered = false;
        self.own = read_key(ctx)?;
        write_key(ctx, &self.own, &self.prior)
    }

    /// The action's attempt ended: the key holds what it held before.
    fn exit(&mut self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.entered {
            return Ok(());
        }
        self.entered = false;
        let current = read_key(ctx)?;
        write_key(ctx, &current, &self.prior.take())
    }

    fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.own)?;
        visit.call(&self.prior)
    }
}

/// What the items of one batch share about the params key, in a context that isolates
/// it: the key's value when the batch began (the view of an item without params), and
/// whether an item with params began an attempt. Such an item does not pop the key
/// when it ends — it may end in another action's flow, or outside every action — but
/// leaves its view; the batch pops the key once, when it ends (`_Batch.finish` /
/// `abandon`), in the flow that awaited it: the key is gone after a batch whose actions
/// had params, as with pystator, and a nested batch's pop happens inside the action that
/// ran it.
pub struct BatchKey {
    inherited: Prior,
    owner_started: Arc<AtomicBool>,
}

impl BatchKey {
    /// The key of a batch beginning now in `ctx` (None when `ctx` does not isolate it).
    pub fn begin(ctx: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        if !isolates(ctx) {
            return Ok(None);
        }
        Ok(Some(Self { inherited: read_key(ctx)?, owner_started: Arc::new(AtomicBool::new(false)) }))
    }

    pub fn clone_ref(&self, py: Python<'_>) -> Self {
        Self {
            inherited: self.inherited.as_ref().map(|v| v.clone_ref(py)),
            owner_started: Arc::clone(&self.owner_started),
        }
    }

    /// The batch ends: pops the key if an item with params began (once).
    pub fn end(&self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.owner_started.swap(false, Ordering::AcqRel) {
            pop_params(ctx)?;
        }
        Ok(())
    }

    pub fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.inherited)
    }
}

/// An awaitable being driven, with its action's view of the params key (if any)
/// entered around each step.
struct Scoped {
    iter: Py<PyAny>,
    view: Option<View>,
}

impl Scoped {
    /// The context refused the params key: the action cannot go on as it should, so it
    /// is closed and the error becomes its outcome (a failed result for an Exception; a
    /// BaseException propagates).
    fn abandon<'py>(iter: &Bound<'py, PyAny>, err: PyErr) -> Sent<'py> {
        let py = iter.py();
        if let Err(close_err) = close_iter(iter) {
            close_err.set_cause(py, Some(err));
            return Sent::Raised(close_err);
        }
        Sent::Raised(err)
    }

    fn step<'py>(&mut self, ctx: &Bound<'py, PyAny>, input: Input<'py>) -> Sent<'py> {
        let iter = self.iter.bind(ctx.py());
        if let Some(view) = &mut self.view {
            if let Err(err) = view.enter(ctx) {
                return Self::abandon(iter, err);
            }
        }
        let sent = match input {
            Input::Send(value) => send(iter, &value),
            Input::Throw(exc) => throw(iter, &exc),
        };
        if let (Sent::Yielded(_), Some(view)) = (&sent, &mut self.view) {
            if let Err(err) = view.suspend(ctx) {
                return Self::abandon(iter, err);
            }
        }
        sent
    }

    /// Closes the awaitable with the view entered: what runs then (`finally` blocks)
    /// is the action's code too.
    fn close(&mut self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        let entered = match &mut self.view {
            Some(view) => view.enter(ctx),
            None => Ok(()),
        };
        let closed = close_iter(self.iter.bind(ctx.py()));
        entered.and(closed)
    }

    /// The attempt ended: leaves the view (see [`View::exit`]).
    fn exit(&mut self, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        match &mut self.view {
            Some(view) => view.exit(ctx),
            None => Ok(()),
        }
    }

    fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.iter)?;
        if let Some(view) = &self.view {
            view.traverse(visit)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// One action
// ---------------------------------------------------------------------------

/// Registry methods (`ActionRegistry.async_execute[_all]`) or executor semantics.
#[derive(Clone, Copy)]
pub enum Kind {
    Executor,
    /// `raise_on_error`: raise the action's exception; `missing_fails`: a missing
    /// name becomes a failed result (execute_all) instead of raising.
    Registry {
        raise_on_error: bool,
        missing_fails: bool,
    },
}

enum Stage {
    /// Begin the current attempt.
    Start,
    /// The action's awaitable.
    Awaiting(Scoped),
    /// `asyncio.wait_for(<attempt>, timeout)`.
    TimedWait(Py<PyAny>),
    /// `asyncio.sleep(delay)` before the next attempt.
    Sleeping(Py<PyAny>),
}

/// What the awaitable an action is awaiting stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// The action's own awaitable (its exception is a failed result).
    Action,
    /// pystator 0.0.47's keyword params path (its exception is caught as raised:
    /// logged, TimeoutError made a timeout).
    Kwargs,
    /// A 0.0.47 built-in action's runner: returns an ActionResult, its exceptions
    /// propagate.
    Builtin,
}

struct Action {
    job: OwnedJob,
    attempt: u64,
    entry: Option<Arc<Entry>>,
    stage: Stage,
    awaited: Awaited,
    /// The executor sets `context["_action_params"]` for this action (the seed
    /// contract; 0.0.47's passes params as keyword arguments).
    sets_params: bool,
    /// For an item of a batch in a context that isolates the key: what the batch's
    /// items share about it.
    batch: Option<BatchKey>,
}

enum ActionStep {
    Yield(Py<PyAny>),
    Done(Res),
}

fn not_awaitable(value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("object {} can't be used in 'await' expression", short_type_name(value)))
}

/// Calls the action; its awaitable, if any, is returned un-driven.
enum Called<'py> {
    Value(Bound<'py, PyAny>),
    Awaitable(Bound<'py, PyAny>),
    Failed(PyErr),
}

fn call_action<'py>(entry: &Entry, ctx: &Bound<'py, PyAny>) -> PyResult<Called<'py>> {
    if let Err(err) = crate::stack::check() {
        return Ok(Called::Failed(err));
    }
    let py = ctx.py();
    match call_one(entry.func.bind(py), ctx) {
        Ok(value) => {
            if is_awaitable(&value)? {
                match await_iter(&value) {
                    Ok(iter) => Ok(Called::Awaitable(iter)),
                    Err(err) if is_exception(py, &err) => Ok(Called::Failed(err)),
                    Err(err) => Err(err),
                }
            } else if entry.is_async {
                Ok(Called::Failed(not_awaitable(&value)))
            } else {
                Ok(Called::Value(value))
            }
        }
        Err(err) if is_exception(py, &err) => Ok(Called::Failed(err)),
        Err(err) => Err(err),
    }
}

fn is_timeout(py: Python<'_>, err: &PyErr) -> PyResult<bool> {
    if err.is_instance_of::<PyTimeoutError>(py) {
        return Ok(true);
    }
    // Python 3.10: asyncio.TimeoutError is not the builtin.
    let asyncio_timeout = defs(py)?.asyncio_module.bind(py).getattr(intern!(py, "TimeoutError"))?;
    Ok(err.is_instance(py, &asyncio_timeout))
}

impl Action {
    fn new(job: OwnedJob, entry: Option<Arc<Entry>>, batch: Option<BatchKey>, exec: Option<&Executor>) -> Self {
        let kwargs = exec.is_some_and(|e| e.contract().params_as_kwargs());
        let sets_params = job.params.is_some() && !kwargs;
        // 0.0.47's contract never touches the params key: nothing to inherit.
        let batch = if kwargs { None } else { batch };
        Self { job, attempt: 0, entry, stage: Stage::Start, awaited: Awaited::Action, sets_params, batch }
    }

    /// Whether the action pops the params key when an attempt ends (it sets it, and
    /// is not an item of a batch that does it for its items: see [`BatchKey`]).
    fn pops(&self) -> bool {
        self.sets_params && self.batch.is_none()
    }

    /// A 0.0.47 built-in action, awaiting its runner.
    fn builtin(job: OwnedJob, runner: Bound<'_, PyAny>) -> PyResult<Self> {
        let scoped = Scoped { iter: await_iter(&runner)?.unbind(), view: None };
        Ok(Self {
            job,
            attempt: 0,
            entry: None,
            stage: Stage::Awaiting(scoped),
            awaited: Awaited::Builtin,
            sets_params: false,
            batch: None,
        })
    }

    /// One attempt on pystator 0.0.47's keyword params path (`func(ctx, **params)`,
    /// awaited when it returns an awaitable; no timeout).
    fn begin_kwargs(&mut self, py: Python<'_>, exec: &Executor, ctx: &Bound<'_, PyAny>) -> PyResult<Option<Outcome>> {
        let entry = match exec.entry_for_attempt(py, &self.job.bind(py), self.entry.take()) {
            Ok(entry) => entry,
            Err(err) => return Ok(Some(Outcome::Raised(err))),
        };
        if !entry.accepts_kwargs {
            return Ok(Some(Outcome::Result(kwargs_refused(py, self.job.name.bind(py)))));
        }
        if let Err(err) = crate::stack::check() {
            return Ok(Some(Outcome::Raised(err)));
        }
        let params = match &self.job.params {
            Some(params) => params.bind(py),
            None => return Err(PyRuntimeError::new_err("the keyword params path needs params")),
        };
        let raised = |err: PyErr| -> PyResult<Option<Outcome>> {
            if !is_exception(py, &err) {
                return Err(err);
            }
            if is_timeout(py, &err)? {
                return Ok(Some(Outcome::TimedOut));
            }
            Ok(Some(Outcome::Raised(err)))
        };
        let value = match call_with_kwargs(entry.func.bind(py), ctx, params) {
            Ok(value) => value,
            Err(err) => return raised(err),
        };
        if is_awaitable(&value)? {
            let iter = match await_iter(&value) {
                Ok(iter) => iter,
                Err(err) => return raised(err),
            };
            self.stage = Stage::Awaiting(Scoped { iter: iter.unbind(), view: None });
            self.awaited = Awaited::Kwargs;
            return Ok(None);
        }
        if entry.is_async {
            return raised(not_awaitable(&value));
        }
        self.ok(py, value).map(Some)
    }

    /// An attempt's view of the params key (its params, or the inherited value when it
    /// has none) in a context that isolates it. Another context gets pystator's write
    /// of the params instead; `Err` is the error it raised.
    fn view(&self, py: Python<'_>, ctx: &Bound<'_, PyAny>) -> Result<Option<View>, PyErr> {
        let inherited = self.batch.as_ref().and_then(|batch| batch.inherited.as_ref());
        match (&self.job.params, inherited) {
            (None, None) => Ok(None),
            (Some(params), _) if isolates(ctx) => Ok(Some(View::new(params.clone_ref(py)))),
            (Some(params), _) => match set_params(ctx, params.bind(py)) {
                Some(err) => Err(err),
                None => Ok(None),
            },
            (None, Some(value)) if isolates(ctx) => Ok(Some(View::new(value.clone_ref(py)))),
            (None, Some(_)) => Ok(None),
        }
    }

    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.job.name.bind(py).clone().into_any()
    }

    fn ok(&self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<Outcome> {
        Ok(Outcome::Result(Res::succeeded(self.name(py).unbind(), value.unbind())))
    }

    fn fail(&self, py: Python<'_>, err: PyErr) -> PyResult<Outcome> {
        Ok(Outcome::Result(Res::failed(self.name(py).unbind(), err.into_value(py).into_any())))
    }

    /// Begins an attempt. `Ok(None)` means a stage was entered and must be driven.
    fn begin(
        &mut self,
        py: Python<'_>,
        kind: Kind,
        exec: Option<&Executor>,
        registry: Option<&Registry>,
        ctx: &Bound<'_, PyAny>,
    ) -> PyResult<Option<Outcome>> {
        if let Kind::Registry { missing_fails, .. } = kind {
            let Some(registry) = registry else {
                return Err(PyRuntimeError::new_err("no registry"));
            };
            let entry = match registry.get_entry(&self.name(py)) {
                Ok(entry) => entry,
                Err(err) if missing_fails && err.is_instance(py, defs(py)?.action_not_found.bind(py)) => {
                    return self.fail(py, err).map(Some);
                }
                Err(err) => return Err(err),
            };
            return match call_action(&entry, ctx)? {
                Called::Value(v) => self.ok(py, v).map(Some),
                Called::Failed(err) => self.fail(py, err).map(Some),
                Called::Awaitable(iter) => {
                    self.stage = Stage::Awaiting(Scoped { iter: iter.unbind(), view: None });
                    Ok(None)
                }
            };
        }
        self.awaited = Awaited::Action;
        if let Some(exec) = exec {
            if self.job.params.is_some() && exec.contract().params_as_kwargs() {
                return self.begin_kwargs(py, exec, ctx);
            }
        }
        let pops = self.pops();
        let mut view = match self.view(py, ctx) {
            Ok(view) => view,
            Err(err) => return Ok(Some(Outcome::Raised(err))),
        };
        if let (true, Some(batch)) = (self.sets_params, &self.batch) {
            batch.owner_started.store(true, Ordering::Release);
        }
        if let Some(timeout) = &self.job.timeout {
            // The attempt enters the view around each of its steps, whoever steps it.
            let attempt = Attempt {
                registry: registry_handle(py, exec)?,
                name: self.job.name.clone_ref(py),
                context: ctx.clone().unbind(),
                view,
                scoped: None,
                state: AttemptState::New,
            };
            let attempt = Py::new(py, attempt)?;
            let wait_for = defs(py)?.asyncio_module.bind(py).getattr(intern!(py, "wait_for"))?;
            let inner = wait_for.call1((attempt, timeout.bind(py)))?;
            self.stage = Stage::TimedWait(await_iter(&inner)?.unbind());
            self.entry = None;
            return Ok(None);
        }
        if let Some(view) = &mut view {
            if let Err(err) = view.enter(ctx) {
                return Ok(Some(Outcome::Raised(err)));
            }
        }
        let entry = match exec {
            Some(exec) => exec.entry_for_attempt(py, &self.job.bind(py), self.entry.take()),
            None => Err(PyRuntimeError::new_err("no executor")),
        };
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => return end_attempt(py, ctx, pops, view.as_mut(), Ok(Outcome::Raised(err))).map(Some),
        };
        let outcome = match call_action(&entry, ctx) {
            Ok(Called::Value(v)) => self.ok(py, v),
            Ok(Called::Failed(err)) => self.fail(py, err),
            Ok(Called::Awaitable(iter)) => {
                self.stage = Stage::Awaiting(Scoped { iter: iter.unbind(), view });
                return Ok(None);
            }
            // A BaseException: the `finally` still pops the params.
            Err(err) => Err(err),
        };
        end_attempt(py, ctx, pops, view.as_mut(), outcome).map(Some)
    }

    /// Advances the action until it yields or has a final result.
    fn step(
        &mut self,
        py: Python<'_>,
        kind: Kind,
        exec: Option<&Executor>,
        registry: Option<&Registry>,
        ctx: &Bound<'_, PyAny>,
        mut input: Option<Input<'_>>,
    ) -> PyResult<ActionStep> {
        loop {
            let outcome = match &mut self.stage {
                Stage::Start => {
                    if let Some(Input::Throw(exc)) = input.take() {
                        return Err(PyErr::from_value(exc));
                    }
                    match self.begin(py, kind, exec, registry, ctx)? {
                        Some(outcome) => outcome,
                        None => continue,
                    }
                }
                Stage::Awaiting(scoped) => {
                    let input = input.take().unwrap_or_else(|| Input::Send(py.None().into_bound(py)));
                    let ended = match scoped.step(ctx, input) {
                        Sent::Yielded(y) => return Ok(ActionStep::Yield(y.unbind())),
                        Sent::Returned(v) => Ok(v),
                        Sent::Raised(err) => Err(err),
                    };
                    let mut view = scoped.view.take();
                    self.stage = Stage::Start;
                    let outcome = match (ended, self.awaited) {
                        (Ok(v), Awaited::Builtin) => return Ok(ActionStep::Done(Res::from_object(&v)?)),
                        (Err(err), Awaited::Builtin) => return Err(err),
                        (Ok(v), _) => self.ok(py, v),
                        (Err(err), Awaited::Kwargs) if is_exception(py, &err) => {
                            if is_timeout(py, &err)? {
                                Ok(Outcome::TimedOut)
                            } else {
                                Ok(Outcome::Raised(err))
                            }
                        }
                        (Err(err), _) if is_exception(py, &err) => self.fail(py, err),
                        (Err(err), _) => Err(err),
                    };
                    match kind {
                        Kind::Executor => end_attempt(py, ctx, self.pops(), view.as_mut(), outcome)?,
                        Kind::Registry { .. } => outcome?,
                    }
                }
                Stage::TimedWait(inner) => {
                    let input = input.take().unwrap_or_else(|| Input::Send(py.None().into_bound(py)));
                    let inner = inner.bind(py).clone();
                    let sent = match input {
                        Input::Send(v) => send(&inner, &v),
                        Input::Throw(e) => throw(&inner, &e),
                    };
                    let outcome = match sent {
                        Sent::Yielded(y) => return Ok(ActionStep::Yield(y.unbind())),
                        Sent::Returned(tagged) => decode_attempt(py, self, &tagged),
                        Sent::Raised(err) if is_timeout(py, &err)? => Ok(Outcome::TimedOut),
                        Sent::Raised(err) if is_exception(py, &err) => Ok(Outcome::Raised(err)),
                        Sent::Raised(err) => Err(err),
                    };
                    self.stage = Stage::Start;
                    finish_params(py, ctx, self.pops(), outcome)?
                }
                Stage::Sleeping(inner) => {
                    let input = input.take().unwrap_or_else(|| Input::Send(py.None().into_bound(py)));
                    let inner = inner.bind(py).clone();
                    let sent = match input {
                        Input::Send(v) => send(&inner, &v),
                        Input::Throw(e) => throw(&inner, &e),
                    };
                    match sent {
                        Sent::Yielded(y) => return Ok(ActionStep::Yield(y.unbind())),
                        Sent::Returned(_) => {
                            self.stage = Stage::Start;
                            continue;
                        }
                        Sent::Raised(err) => {
                            self.stage = Stage::Start;
                            return Err(err);
                        }
                    }
                }
            };
            match kind {
                Kind::Registry { raise_on_error, .. } => {
                    return match outcome {
                        Outcome::Result(result) => {
                            if raise_on_error {
                                if let Some(error) = result.error(py) {
                                    return Err(PyErr::from_value(error));
                                }
                            }
                            Ok(ActionStep::Done(result))
                        }
                        Outcome::Raised(err) => Err(err),
                        Outcome::TimedOut => Err(PyTimeoutError::new_err("timed out")),
                        Outcome::Final(result) => Ok(ActionStep::Done(result)),
                    };
                }
                Kind::Executor => {
                    let log = exec.is_some_and(Executor::log_execution);
                    match after_attempt(py, &self.job.bind(py), self.attempt, outcome, log)? {
                        Next::Done(result) => return Ok(ActionStep::Done(result)),
                        Next::Retry => {
                            self.attempt += 1;
                            let delay = backoff_delay(py, &self.job.bind(py), self.attempt)?;
                            let sleep = defs(py)?.asyncio_module.bind(py).getattr(intern!(py, "sleep"))?;
                            let sleeping = sleep.call1((delay,))?;
                            if !is_awaitable(&sleeping)? {
                                return Err(not_awaitable(&sleeping));
                            }
                            self.stage = Stage::Sleeping(await_iter(&sleeping)?.unbind());
                        }
                    }
                }
            }
        }
    }

    /// Closes whatever the action is suspended in (pystator's `finally` pops params).
    fn close(&mut self, py: Python<'_>, kind: Kind, ctx: &Bound<'_, PyAny>) -> PyResult<()> {
        let pops = self.pops() && matches!(kind, Kind::Executor);
        match std::mem::replace(&mut self.stage, Stage::Start) {
            Stage::Start => Ok(()),
            Stage::Sleeping(inner) => close_iter(inner.bind(py)),
            Stage::TimedWait(inner) => {
                let closed = close_iter(inner.bind(py));
                if pops {
                    pop_params(ctx)?;
                }
                closed
            }
            Stage::Awaiting(mut scoped) => {
                let closed = scoped.close(ctx);
                if pops {
                    pop_params(ctx)?;
                } else {
                    scoped.exit(ctx)?;
                }
                closed
            }
        }
    }
}

/// The end of an attempt: pystator's `finally` pops the params of an action that
/// `pops` (see [`Action::pops`]); any other view is left. An error from either replaces
/// the outcome, as an exception raised in `finally` does.
fn end_attempt(
    py: Python<'_>,
    ctx: &Bound<'_, PyAny>,
    pops: bool,
    view: Option<&mut View>,
    outcome: PyResult<Outcome>,
) -> PyResult<Outcome> {
    if pops {
        return finish_params(py, ctx, true, outcome);
    }
    match view.map(|view| view.exit(ctx)) {
        None | Some(Ok(())) => outcome,
        Some(Err(err)) if is_exception(py, &err) => Ok(Outcome::Raised(err)),
        Some(Err(err)) => Err(err),
    }
}

fn decode_attempt(py: Python<'_>, action: &Action, tagged: &Bound<'_, PyAny>) -> PyResult<Outcome> {
    let (tag, value): (u8, Bound<'_, PyAny>) = tagged.extract()?;
    match tag {
        0 => action.ok(py, value),
        1 => action.fail(py, PyErr::from_value(value)),
        _ => Ok(Outcome::Raised(PyErr::from_value(value))),
    }
}

fn registry_handle(py: Python<'_>, exec: Option<&Executor>) -> PyResult<Handle> {
    match exec {
        Some(exec) => exec.handle(py),
        None => Err(PyRuntimeError::new_err("no executor")),
    }
}

// ---------------------------------------------------------------------------
// One attempt as its own awaitable (for asyncio.wait_for)
// ---------------------------------------------------------------------------

enum AttemptState {
    New,
    Running,
    Done,
}

/// One attempt at an action with a timeout, handed to `asyncio.wait_for` (which on
/// Python < 3.12 runs it as a Task of its own, as pystator's does). It returns a
/// tagged outcome so the action's own TimeoutError is not mistaken for the timeout:
/// `(0, value)` ok, `(1, exc)` the action failed, `(2, exc)` the call could not be
/// made (the action vanished).
#[pyclass(name = "_Attempt", module = "ferrostator._core")]
pub struct Attempt {
    registry: Handle,
    name: Py<PyString>,
    context: Py<PyAny>,
    /// The action's view of the params key, until the call (then in `scoped`).
    view: Option<View>,
    scoped: Option<Scoped>,
    state: AttemptState,
}

fn tagged(py: Python<'_>, tag: u8, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    Ok(PyTuple::new(py, [tag.into_pyobject(py)?.into_any(), value])?.into_any().unbind())
}

impl Attempt {
    fn resume<'py>(&mut self, py: Python<'py>, input: Input<'py>) -> PyResult<Step> {
        let ctx = self.context.bind(py).clone();
        let sent = match self.state {
            AttemptState::Done => return Err(PyRuntimeError::new_err("cannot reuse already awaited coroutine")),
            AttemptState::New => {
                self.state = AttemptState::Running;
                if let Input::Throw(exc) = input {
                    self.state = AttemptState::Done;
                    return Err(PyErr::from_value(exc));
                }
                if let Some(view) = &mut self.view {
                    if let Err(err) = view.enter(&ctx) {
                        self.state = AttemptState::Done;
                        return Ok(Step::Return(tagged(py, 2, err.into_value(py).into_bound(py).into_any())?));
                    }
                }
                let finish = |this: &mut Self, tag: u8, value: Bound<'py, PyAny>| -> PyResult<Step> {
                    this.state = AttemptState::Done;
                    if let Some(view) = &mut this.view {
                        view.exit(&ctx)?;
                    }
                    Ok(Step::Return(tagged(py, tag, value)?))
                };
                let entry = match self.registry.get_entry(py, self.name.bind(py).as_any()) {
                    Ok(entry) => entry,
                    Err(err) => return finish(self, 2, err.into_value(py).into_bound(py).into_any()),
                };
                match call_action(&entry, &ctx) {
                    Err(err) => {
                        self.state = AttemptState::Done;
                        if let Some(view) = &mut self.view {
                            view.exit(&ctx)?;
                        }
                        return Err(err);
                    }
                    Ok(Called::Value(v)) => return finish(self, 0, v),
                    Ok(Called::Failed(err)) => return finish(self, 1, err.into_value(py).into_bound(py).into_any()),
                    Ok(Called::Awaitable(iter)) => {
                        let mut scoped = Scoped { iter: iter.unbind(), view: self.view.take() };
                        let sent = scoped.step(&ctx, Input::Send(py.None().into_bound(py)));
                        self.scoped = Some(scoped);
                        sent
                    }
                }
            }
            AttemptState::Running => match &mut self.scoped {
                Some(scoped) => scoped.step(&ctx, input),
                None => return Err(PyRuntimeError::new_err("attempt is not running")),
            },
        };
        if let Sent::Yielded(y) = sent {
            return Ok(Step::Yield(y.unbind()));
        }
        self.state = AttemptState::Done;
        if let Some(mut scoped) = self.scoped.take() {
            scoped.exit(&ctx)?;
        }
        match sent {
            Sent::Returned(v) => Ok(Step::Return(tagged(py, 0, v)?)),
            Sent::Raised(err) if is_exception(py, &err) => {
                Ok(Step::Return(tagged(py, 1, err.into_value(py).into_bound(py).into_any())?))
            }
            Sent::Raised(err) => Err(err),
            Sent::Yielded(_) => Err(PyRuntimeError::new_err("unreachable")),
        }
    }
}

fn step_result(step: PyResult<Step>) -> PyResult<Py<PyAny>> {
    match step? {
        Step::Yield(value) => Ok(value),
        Step::Return(value) => Err(PyStopIteration::new_err((value,))),
    }
}

fn throw_input<'py>(py: Python<'py>, typ: Bound<'py, PyAny>, val: Option<Bound<'py, PyAny>>) -> PyResult<Input<'py>> {
    // throw(exc) or the legacy throw(type[, value[, tb]]).
    if typ.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        return Ok(Input::Throw(typ));
    }
    let exc = match val {
        Some(v) if v.is_instance(&typ)? => v,
        Some(v) if v.is_none() => typ.call0()?,
        Some(v) => typ.call1((v,))?,
        None => typ.call0()?,
    };
    if !exc.is_instance_of::<pyo3::exceptions::PyBaseException>() {
        return Err(PyTypeError::new_err("exceptions must derive from BaseException"));
    }
    let _ = py;
    Ok(Input::Throw(exc))
}

#[pymethods]
impl Attempt {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let step = self.resume(py, Input::Send(py.None().into_bound(py)));
        step_result(step)
    }

    fn send(&mut self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let step = self.resume(py, Input::Send(value));
        step_result(step)
    }

    #[pyo3(signature = (typ, val = None, tb = None))]
    fn throw(
        &mut self,
        py: Python<'_>,
        typ: Bound<'_, PyAny>,
        val: Option<Bound<'_, PyAny>>,
        tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        let input = throw_input(py, typ, val)?;
        let step = self.resume(py, input);
        step_result(step)
    }

    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.state = AttemptState::Done;
        if let Some(mut scoped) = self.scoped.take() {
            let ctx = self.context.bind(py);
            let closed = scoped.close(ctx);
            scoped.exit(ctx)?;
            closed?;
        }
        Ok(())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        match &self.registry {
            Handle::Ours(reg) => visit.call(reg)?,
            Handle::Foreign(reg) => visit.call(reg)?,
        }
        visit.call(&self.context)?;
        if let Some(view) = &self.view {
            view.traverse(&visit)?;
        }
        if let Some(scoped) = &self.scoped {
            scoped.traverse(&visit)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// A sequence of actions
// ---------------------------------------------------------------------------

/// An item still to run.
pub enum Item {
    /// A spec object, resolved when its turn comes (as pystator reads attributes).
    Spec(Py<PyAny>),
    /// A bare name (no params, retries or timeout).
    Name(Py<PyAny>),
    /// Resolved, and already looked up in the registry.
    Prepared(OwnedJob, Arc<Entry>),
    /// Resolved; prepare when its turn comes.
    Job(OwnedJob),
    /// Resolved, and found to be one of pystator 0.0.47's built-in actions.
    Builtin(OwnedJob),
}

/// What the driver returns when every action has run.
pub enum Finish {
    Single,
    List,
    Execution(Py<ExecutionResult>),
}

pub struct Driver {
    pub executor: Option<Py<Executor>>,
    /// The registry whose own methods run (Kind::Registry); None for an executor.
    pub registry: Option<Py<Registry>>,
    pub kind: Kind,
    pub context: Py<PyAny>,
    pub items: std::vec::IntoIter<Item>,
    /// The results so far, as records: made into objects (or handed to the
    /// ExecutionResult as they are) when the driver finishes.
    records: Vec<Res>,
    /// Stop after a failure: the executor's flag (read at each check), or a fixed rule.
    pub stop_rule: StopRule,
    pub finish: Finish,
    current: Option<Action>,
    stopped: bool,
    /// For the driver of an item of a batch: what the batch's items share about the
    /// params key (see [`BatchKey`]).
    batch: Option<BatchKey>,
}

#[derive(Clone, Copy)]
pub enum StopRule {
    Never,
    Always,
    ExecutorFlag,
}

impl Driver {
    pub fn new(
        executor: Option<Py<Executor>>,
        registry: Option<Py<Registry>>,
        kind: Kind,
        context: Py<PyAny>,
        items: Vec<Item>,
        stop_rule: StopRule,
        finish: Finish,
    ) -> Self {
        Self {
            executor,
            registry,
            kind,
            context,
            items: items.into_iter(),
            records: Vec::new(),
            stop_rule,
            finish,
            current: None,
            stopped: false,
            batch: None,
        }
    }

    /// The driver of an item of a batch (see [`BatchKey`]).
    pub fn in_batch(mut self, batch: Option<BatchKey>) -> Self {
        self.batch = batch;
        self
    }

    fn action(&self, py: Python<'_>, job: OwnedJob, entry: Option<Arc<Entry>>) -> Action {
        let exec = self.executor.as_ref().map(|e| e.get());
        Action::new(job, entry, self.batch.as_ref().map(|b| b.clone_ref(py)), exec)
    }

    fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let records = std::mem::take(&mut self.records);
        match &self.finish {
            Finish::Single => match records.into_iter().next() {
                Some(result) => Ok(result.into_object(py)?.into_any()),
                None => Err(PyRuntimeError::new_err("an action finished without a result")),
            },
            Finish::List => {
                let objects = records.into_iter().map(|r| r.into_object(py)).collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, objects)?.into_any().unbind())
            }
            Finish::Execution(er) => {
                er.bind(py).get().set_results(Results::Records(records));
                complete(py, er);
                Ok(er.clone_ref(py).into_any())
            }
        }
    }

    /// Turns the next item into an action, or a result when nothing is to be awaited.
    fn start_item(&mut self, py: Python<'_>, item: Item) -> PyResult<Result<Action, Res>> {
        let ctx = self.context.bind(py);
        let exec = self.executor.as_ref().map(|e| e.get());
        let contract = exec.map_or(crate::contract::Contract::Seed, Executor::contract);
        let (owned, object);
        let job = match item {
            Item::Prepared(job, entry) => return Ok(Ok(self.action(py, job, Some(entry)))),
            Item::Builtin(job) => return Ok(Ok(self.start_builtin(py, job.bind(py))?)),
            Item::Job(job) => {
                owned = job;
                owned.bind(py)
            }
            Item::Spec(spec) => {
                object = spec.into_bound(py);
                Job::from_spec(&object, true, contract)?
            }
            Item::Name(name) => {
                object = name.into_bound(py);
                Job::from_name(&object)?
            }
        };
        if let Kind::Registry { .. } = self.kind {
            return Ok(Ok(self.action(py, job.unbind(), None)));
        }
        match exec {
            Some(exec) => match exec.prepare(py, &job, ctx, &mut None)? {
                Prepared::Done(result) => Ok(Err(result)),
                Prepared::Run(entry) => Ok(Ok(self.action(py, job.unbind(), Some(entry.clone())))),
                Prepared::Builtin => Ok(Ok(self.start_builtin(py, job)?)),
            },
            None => Err(PyRuntimeError::new_err("no executor")),
        }
    }

    /// Starts a 0.0.47 built-in action: its runner (a coroutine of the prelude) awaited.
    fn start_builtin(&self, py: Python<'_>, job: Job<'_, '_>) -> PyResult<Action> {
        let exec = self.executor.as_ref().ok_or_else(|| PyRuntimeError::new_err("no executor"))?.bind(py);
        let args = Executor::builtin_args(exec, &job, self.context.bind(py))?;
        let runner = call_prelude(py, "_v47_builtin_async", args)?;
        Action::builtin(job.unbind(), runner)
    }

    fn record(&mut self, result: Res) {
        let failed = !result.ok();
        self.records.push(result);
        let stop = match self.stop_rule {
            StopRule::Never => false,
            StopRule::Always => true,
            StopRule::ExecutorFlag => self.executor.as_ref().is_some_and(|e| e.get().stop_on_error()),
        };
        if failed && stop {
            self.stopped = true;
        }
    }

    /// Runs until an action suspends (Yield) or all are done (Return).
    pub fn advance<'py>(&mut self, py: Python<'py>, mut input: Option<Input<'py>>) -> PyResult<Step> {
        let ctx = self.context.bind(py).clone();
        loop {
            let mut action = match self.current.take() {
                Some(action) => action,
                None => {
                    if let Some(Input::Throw(exc)) = input.take() {
                        return Err(PyErr::from_value(exc));
                    }
                    let next = if self.stopped { None } else { self.items.next() };
                    match next {
                        None => return Ok(Step::Return(self.finish(py)?)),
                        Some(item) => match self.start_item(py, item)? {
                            Ok(action) => action,
                            Err(result) => {
                                self.record(result);
                                continue;
                            }
                        },
                    }
                }
            };
            let exec = self.executor.as_ref().map(|e| e.get());
            let step = action.step(py, self.kind, exec, self.registry.as_ref().map(|r| r.get()), &ctx, input.take());
            match step? {
                ActionStep::Yield(value) => {
                    self.current = Some(action);
                    return Ok(Step::Yield(value));
                }
                ActionStep::Done(result) => self.record(result),
            }
        }
    }

    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.stopped = true;
        match self.current.take() {
            Some(mut action) => action.close(py, self.kind, self.context.bind(py)),
            None => Ok(()),
        }
    }

    fn traverse(&self, visit: &pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.registry)?;
        visit.call(&self.context)?;
        if let Some(batch) = &self.batch {
            batch.traverse(visit)?;
        }
        for record in &self.records {
            record.traverse(visit)?;
        }
        if let Some(exec) = &self.executor {
            visit.call(exec)?;
        }
        if let Finish::Execution(er) = &self.finish {
            visit.call(er)?;
        }
        if let Some(action) = &self.current {
            action.job.traverse(visit)?;
            if let Some(batch) = &action.batch {
                batch.traverse(visit)?;
            }
            match &action.stage {
                Stage::Awaiting(scoped) => scoped.traverse(visit)?,
                Stage::TimedWait(inner) | Stage::Sleeping(inner) => visit.call(inner)?,
                Stage::Start => {}
            }
        }
        Ok(())
    }
}

/// A suspended [`Driver`], resumable as a coroutine by `await` or by an asyncio Task.
#[pyclass(name = "_Run", module = "ferrostator._core")]
pub struct Run {
    driver: Option<Driver>,
    /// A value the driver yielded before anyone awaited us; handed out first.
    pending: Option<Py<PyAny>>,
    /// Run as a Task of a parallel batch: the result is kept here for the batch, and
    /// `__next__` ends without raising StopIteration (the cheap way to finish).
    detached: bool,
    result: Option<Py<PyAny>>,
}

impl Run {
    pub fn new(driver: Driver, pending: Option<Py<PyAny>>) -> Self {
        Self { driver: Some(driver), pending, detached: false, result: None }
    }

    /// A Run for a Task whose result the batch collects with [`Run::take_result`].
    pub fn detached(driver: Driver, pending: Option<Py<PyAny>>) -> Self {
        Self { driver: Some(driver), pending, detached: true, result: None }
    }

    pub fn has_result(&self) -> bool {
        self.result.is_some()
    }

    pub fn take_result(&mut self) -> Option<Py<PyAny>> {
        self.result.take()
    }

    /// One resumption: `Some(value)` yielded, `None` finished (detached runs only).
    fn resume<'py>(&mut self, py: Python<'py>, input: Input<'py>) -> PyResult<Option<Py<PyAny>>> {
        let driver = match self.driver.as_mut() {
            Some(driver) => driver,
            None => return Err(PyRuntimeError::new_err("cannot reuse already awaited coroutine")),
        };
        if let Some(pending) = self.pending.take() {
            if let Input::Send(_) = input {
                return Ok(Some(pending));
            }
        }
        match driver.advance(py, Some(input)) {
            Ok(Step::Yield(value)) => Ok(Some(value)),
            Ok(Step::Return(value)) => {
                self.driver = None;
                if self.detached {
                    self.result = Some(value);
                    Ok(None)
                } else {
                    Err(PyStopIteration::new_err((value,)))
                }
            }
            Err(err) => {
                self.driver = None;
                Err(err)
            }
        }
    }
}

#[pymethods]
impl Run {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.resume(py, Input::Send(py.None().into_bound(py)))
    }

    fn send(&mut self, py: Python<'_>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let step = self.resume(py, Input::Send(value))?;
        step.ok_or_else(|| PyStopIteration::new_err(()))
    }

    #[pyo3(signature = (typ, val = None, tb = None))]
    fn throw(
        &mut self,
        py: Python<'_>,
        typ: Bound<'_, PyAny>,
        val: Option<Bound<'_, PyAny>>,
        tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = tb;
        let input = throw_input(py, typ, val)?;
        let step = self.resume(py, input)?;
        step.ok_or_else(|| PyStopIteration::new_err(()))
    }

    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        self.pending = None;
        match self.driver.take() {
            Some(mut driver) => driver.close(py),
            None => Ok(()),
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        if let Some(driver) = &self.driver {
            driver.traverse(&visit)?;
        }
        visit.call(&self.pending)?;
        visit.call(&self.result)?;
        Ok(())
    }

    fn __clear__(&mut self) {
        self.driver = None;
        self.pending = None;
        self.result = None;
    }
}

/// Runs a driver as far as it goes now: its final value, or a [`Run`] to await.
pub fn start(py: Python<'_>, mut driver: Driver) -> PyResult<Py<PyAny>> {
    match driver.advance(py, None)? {
        Step::Return(value) => Ok(value),
        Step::Yield(value) => Ok(Py::new(py, Run::new(driver, Some(value)))?.into_any()),
    }
}
