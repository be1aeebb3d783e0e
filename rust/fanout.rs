//! Entry points of the async paths, called by the Python layer
//! (`python/ferrostator/actions.py`), and the parallel fan-out.
//!
//! Parallel and phased batches behave as `asyncio.gather` over one Task per action:
//! every action starts, in spec order, and results come back in spec order. What
//! makes them cheap: an async action gets a Task whose coroutine is a [`Run`] (no
//! Python frame), and a sync action runs inline in a copy of the contextvars context
//! — as it would inside a Task of its own — as long as no earlier action of the batch
//! is still waiting for its first step. On Python 3.12+ tasks start eagerly, so every
//! sync action runs inline. An inline action that has to wait (a retry's real sleep)
//! continues as a Task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use pyo3::{ffi, intern};

use crate::defs::defs;
use crate::driver::{start, BatchKey, Driver, Finish, Item, Kind, Run, Step, StopRule};
use crate::executor::{Executor, Prepared};
use crate::registry::Registry;
use crate::results::{complete, ExecutionResult, Mode, Results};
use crate::spec::{spec_list, Job, TransitionView};
use crate::util::truthy;

fn executor_driver(
    exec: &Bound<'_, Executor>,
    ctx: &Bound<'_, PyAny>,
    items: Vec<Item>,
    stop_rule: StopRule,
    finish: Finish,
) -> Driver {
    Driver::new(Some(exec.clone().unbind()), None, Kind::Executor, ctx.clone().unbind(), items, stop_rule, finish)
}

/// `ActionExecutor.async_execute`: the finished ExecutionResult, or a Run to await.
#[pyfunction]
pub fn _sequential_start(
    py: Python<'_>,
    executor: &Bound<'_, Executor>,
    transition_result: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let er =
        ExecutionResult::start(py, transition_result.clone().unbind(), Mode::Sequential, executor.get().contract())?;
    let view = TransitionView::new(transition_result);
    if !view.success()? {
        complete(py, &er);
        return Ok(er.into_any());
    }
    let items = view.all_specs()?.iter().map(|s| Item::Spec(s.clone().unbind())).collect();
    let driver = executor_driver(executor, context, items, StopRule::ExecutorFlag, Finish::Execution(er));
    start(py, driver)
}

/// `ActionExecutor.async_execute_action_spec`: the ActionResult, or a Run to await.
/// `depth`: how many `_branch` actions enclose it (pystator 0.0.47's contract).
#[pyfunction]
#[pyo3(signature = (executor, action, context, depth = None))]
pub fn _spec_start(
    py: Python<'_>,
    executor: &Bound<'_, Executor>,
    action: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
    depth: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let depth = match depth {
        Some(depth) => crate::contract::depth_arg(depth)?,
        None => 0,
    };
    let items = if depth == 0 {
        vec![Item::Spec(action.clone().unbind())]
    } else {
        let mut job = Job::from_spec(action, true, executor.get().contract())?;
        job.depth = depth;
        vec![Item::Job(job.unbind())]
    };
    let driver = executor_driver(executor, context, items, StopRule::Never, Finish::Single);
    start(py, driver)
}

/// A driver with registry semantics (no executor: no params, retries or effects).
fn registry_driver(
    registry: &Bound<'_, Registry>,
    kind: Kind,
    ctx: &Bound<'_, PyAny>,
    items: Vec<Item>,
    stop_rule: StopRule,
    finish: Finish,
) -> Driver {
    Driver::new(None, Some(registry.clone().unbind()), kind, ctx.clone().unbind(), items, stop_rule, finish)
}

/// `ActionRegistry.async_execute`: the ActionResult, or a Run to await.
#[pyfunction]
#[pyo3(signature = (registry, name, context, raise_on_error = None))]
pub fn _registry_start(
    py: Python<'_>,
    registry: &Bound<'_, Registry>,
    name: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
    raise_on_error: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let kind = Kind::Registry { raise_on_error: truthy(raise_on_error)?, missing_fails: false };
    let items = vec![Item::Name(name.clone().unbind())];
    start(py, registry_driver(registry, kind, context, items, StopRule::Never, Finish::Single))
}

/// `ActionRegistry.async_execute_all`: the results list, or a Run to await.
#[pyfunction]
#[pyo3(signature = (registry, actions, context, stop_on_error = None))]
pub fn _registry_all_start(
    py: Python<'_>,
    registry: &Bound<'_, Registry>,
    actions: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
    stop_on_error: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let kind = Kind::Registry { raise_on_error: false, missing_fails: true };
    let items = actions.try_iter()?.map(|n| n.map(|n| Item::Name(n.unbind()))).collect::<PyResult<Vec<_>>>()?;
    let rule = if truthy(stop_on_error)? { StopRule::Always } else { StopRule::Never };
    start(py, registry_driver(registry, kind, context, items, rule, Finish::List))
}

/// Marks an ExecutionResult completed now and returns it.
#[pyfunction]
pub fn _complete(py: Python<'_>, er: Py<ExecutionResult>) -> Py<ExecutionResult> {
    complete(py, &er);
    er
}

/// `ActionExecutor.async_execute_phased`, first step: the ExecutionResult and the three
/// phases, or `(result, None)` when the transition failed (the result is complete).
#[pyfunction]
pub fn _phased_start<'py>(
    py: Python<'py>,
    executor: &Bound<'py, Executor>,
    transition_result: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let er = ExecutionResult::start(py, transition_result.clone().unbind(), Mode::Phased, executor.get().contract())?;
    let view = TransitionView::new(transition_result);
    if !view.success()? {
        complete(py, &er);
        return PyTuple::new(py, [er.into_any(), py.None()]);
    }
    let phases = PyTuple::new(py, view.phases()?)?;
    PyTuple::new(py, [er.into_any(), phases.into_any().unbind()])
}

/// `ActionExecutor.async_execute_parallel`: a Batch whose `finish` gives the
/// ExecutionResult.
#[pyfunction]
pub fn _parallel_start(
    py: Python<'_>,
    executor: &Bound<'_, Executor>,
    transition_result: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
) -> PyResult<Batch> {
    let contract = executor.get().contract();
    let er = ExecutionResult::start(py, transition_result.clone().unbind(), Mode::Parallel, contract)?;
    let view = TransitionView::new(transition_result);
    if !view.success()? {
        return Ok(Batch::finished(py, BatchFinish::Execution(er)));
    }
    let specs = view.all_specs()?;
    let jobs = specs.iter().map(|s| Job::from_spec(s, true, contract)).collect::<PyResult<Vec<_>>>()?;
    fan_out(py, executor, jobs, context, BatchFinish::Execution(er))
}

/// One parallel batch of specs (or names, when `names` is true): a Batch whose
/// `finish` gives the list of results.
#[pyfunction]
#[pyo3(signature = (executor, specs, context, names = false))]
pub fn _fan_out(
    py: Python<'_>,
    executor: &Bound<'_, Executor>,
    specs: &Bound<'_, PyAny>,
    context: &Bound<'_, PyAny>,
    names: bool,
) -> PyResult<Batch> {
    let items = spec_list("actions", specs)?;
    let contract = executor.get().contract();
    let jobs = items
        .iter()
        .map(|s| if names { Job::from_name(s) } else { Job::from_spec(s, true, contract) })
        .collect::<PyResult<Vec<_>>>()?;
    fan_out(py, executor, jobs, context, BatchFinish::List)
}

enum BatchFinish {
    List,
    Execution(Py<ExecutionResult>),
}

/// A started parallel batch: results so far (Tasks in the slots still running) and
/// the Tasks the Python layer gathers.
#[pyclass(name = "_Batch", module = "ferrostator._core", frozen)]
pub struct Batch {
    /// Taken by `finish`: a finished batch holds no result. A failed inline action's
    /// traceback reaches the frame that started the batch (through `f_back`), and that
    /// frame's locals hold the batch: were the results still in it, every failure
    /// would leave a reference cycle for the collector.
    parts: Mutex<Option<BatchParts>>,
    tasks: Option<Py<PyList>>,
    /// The context and the params key its items share (a context that isolates it).
    key: Option<(Py<PyAny>, BatchKey)>,
}

struct BatchParts {
    slots: Py<PyList>,
    /// Where each Task's result goes, and the Run that keeps it.
    task_slots: Vec<(usize, Py<Run>)>,
    finish: BatchFinish,
}

impl Batch {
    fn new(
        slots: Py<PyList>,
        task_slots: Vec<(usize, Py<Run>)>,
        tasks: Option<Py<PyList>>,
        finish: BatchFinish,
        key: Option<(Py<PyAny>, BatchKey)>,
    ) -> Self {
        Self { parts: Mutex::new(Some(BatchParts { slots, task_slots, finish })), tasks, key }
    }

    fn finished(py: Python<'_>, finish: BatchFinish) -> Self {
        Self::new(PyList::empty(py).unbind(), Vec::new(), None, finish, None)
    }

    /// The batch ended (see [`BatchKey::end`]).
    fn end_key(&self, py: Python<'_>) -> PyResult<()> {
        match &self.key {
            Some((ctx, key)) => key.end(ctx.bind(py)),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl Batch {
    /// The Tasks to gather, or None when every action already finished.
    #[getter]
    fn tasks(&self, py: Python<'_>) -> Option<Py<PyList>> {
        self.tasks.as_ref().map(|t| t.clone_ref(py))
    }

    /// What the batch is awaited through, as `asyncio.gather(*tasks)` would give: a
    /// `future_class(loop=...)` (the Python layer's `_BatchFuture`) holding the Tasks
    /// as `_children`, with the gather callback on every Task. None when no Task runs.
    fn watch(&self, py: Python<'_>, future_class: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let Some(tasks) = &self.tasks else {
            return Ok(None);
        };
        let tasks = tasks.bind(py);
        let event_loop = tasks.get_item(0)?.call_method0(intern!(py, "get_loop"))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "loop"), event_loop)?;
        let outer = future_class.call((), Some(&kwargs))?;
        outer.setattr(intern!(py, "_children"), tasks)?;
        let callback =
            Py::new(py, GatherCallback { outer: outer.clone().unbind(), pending: AtomicUsize::new(tasks.len()) })?;
        for task in tasks.iter() {
            task.call_method1(intern!(py, "add_done_callback"), (&callback,))?;
        }
        Ok(Some(outer.unbind()))
    }

    /// Puts the Tasks' results in place (once they are all done) and returns the
    /// batch's value. Once only: the batch gives its results away.
    fn finish(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let taken = self.parts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some(BatchParts { slots, task_slots, finish }) = taken else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err("this batch was already finished"));
        };
        self.end_key(py)?;
        let slots = slots.bind(py);
        for (slot, run) in &task_slots {
            let taken = match run.try_borrow_mut(py) {
                Ok(mut run) => run.take_result(),
                Err(_) => None,
            };
            match taken {
                Some(result) => slots.set_item(*slot, result)?,
                None => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err("a batch task finished without a result"))
                }
            }
        }
        match finish {
            BatchFinish::List => Ok(slots.clone().into_any().unbind()),
            BatchFinish::Execution(er) => {
                er.bind(py).get().set_results(Results::List(slots.clone().into_any().unbind()));
                complete(py, &er);
                Ok(er.into_any())
            }
        }
    }

    /// The batch failed or was cancelled (awaiting it raised): it ends without results.
    /// Its Tasks may still be running, as asyncio.gather's do.
    fn abandon(&self, py: Python<'_>) -> PyResult<()> {
        self.end_key(py)
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.tasks)?;
        if let Some((ctx, key)) = &self.key {
            visit.call(ctx)?;
            key.traverse(&visit)?;
        }
        // try_lock: the collector never waits (the lock is held only to take the parts).
        if let Ok(parts) = self.parts.try_lock() {
            if let Some(parts) = parts.as_ref() {
                visit.call(&parts.slots)?;
                for (_, run) in &parts.task_slots {
                    visit.call(run)?;
                }
                if let BatchFinish::Execution(er) = &parts.finish {
                    visit.call(er)?;
                }
            }
        }
        Ok(())
    }
}

/// `asyncio.gather`'s per-child done callback (with `return_exceptions=False`), shared
/// by the Tasks of one batch: the batch's outer future (the Python layer's
/// `_BatchFuture`, which cancels the Tasks as gather's `_GatheringFuture` does) fails
/// as soon as a Task is cancelled or raised, and is resolved when every Task is done.
/// The Tasks' values are not collected here: `_Batch.finish` takes them from the Runs.
#[pyclass(name = "_GatherCallback", module = "ferrostator._core", frozen)]
pub struct GatherCallback {
    outer: Py<PyAny>,
    pending: AtomicUsize,
}

#[pymethods]
impl GatherCallback {
    fn __call__(&self, py: Python<'_>, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        let remaining = self.pending.fetch_sub(1, Ordering::AcqRel).saturating_sub(1);
        let outer = self.outer.bind(py);
        let cancelled = fut.call_method0(intern!(py, "cancelled"))?.is_truthy()?;
        if outer.call_method0(intern!(py, "done"))?.is_truthy()? {
            if !cancelled {
                fut.call_method0(intern!(py, "exception"))?; // marks it retrieved
            }
            return Ok(());
        }
        if cancelled {
            let exc = fut.call_method0(intern!(py, "_make_cancelled_error"))?;
            outer.call_method1(intern!(py, "set_exception"), (exc,))?;
            return Ok(());
        }
        let exc = fut.call_method0(intern!(py, "exception"))?;
        if !exc.is_none() {
            outer.call_method1(intern!(py, "set_exception"), (exc,))?;
            return Ok(());
        }
        if remaining == 0 {
            if outer.getattr(intern!(py, "_cancel_requested"))?.is_truthy()? {
                let exc = fut.call_method0(intern!(py, "_make_cancelled_error"))?;
                outer.call_method1(intern!(py, "set_exception"), (exc,))?;
            } else {
                outer.call_method1(intern!(py, "set_result"), (py.None(),))?;
            }
        }
        Ok(())
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.outer)
    }
}

/// A contextvars Context entered for the duration of a closure.
struct CopiedContext<'py>(Bound<'py, PyAny>);

impl<'py> CopiedContext<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        // SAFETY: returns a new reference or NULL with an exception set.
        let ctx = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent())? };
        Ok(Self(ctx))
    }

    fn run<T>(&self, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
        let py = self.0.py();
        // SAFETY: a fresh context, entered and exited on this thread around `f`.
        if unsafe { ffi::PyContext_Enter(self.0.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        let out = f();
        if unsafe { ffi::PyContext_Exit(self.0.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        out
    }
}

struct Spawner<'py> {
    py: Python<'py>,
    event_loop: Bound<'py, PyAny>,
    eager: bool,
    spawned: Vec<Bound<'py, PyAny>>,
}

impl<'py> Spawner<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let d = defs(py)?;
        let event_loop = d.get_running_loop.bind(py).call0()?;
        // Eager start keeps a custom task factory out of the way only when there is none.
        let eager = d.eager_tasks && event_loop.call_method0(intern!(py, "get_task_factory"))?.is_none();
        Ok(Self { py, event_loop, eager, spawned: Vec::new() })
    }

    /// A Task for a driver that has not started (its first step runs in the Task).
    fn fresh(&mut self, run: Py<Run>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let task = if self.eager {
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "loop"), &self.event_loop)?;
            kwargs.set_item(intern!(py, "eager_start"), true)?;
            defs(py)?.asyncio_task.bind(py).call((run,), Some(&kwargs))?
        } else {
            self.event_loop.call_method1(intern!(py, "create_task"), (run,))?
        };
        self.spawned.push(task.clone());
        Ok(task)
    }

    /// A Task continuing a driver that already started inline in `context`.
    fn continuing(&mut self, run: Py<Run>, context: &CopiedContext<'py>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let task = if py.version_info() >= (3, 11) {
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "context"), &context.0)?;
            self.event_loop.call_method(intern!(py, "create_task"), (run,), Some(&kwargs))?
        } else {
            let create = self.event_loop.getattr(intern!(py, "create_task"))?;
            context.0.call_method1(intern!(py, "run"), (create, run))?
        };
        self.spawned.push(task.clone());
        Ok(task)
    }

    /// On failure half-way: the Tasks already started must not be left behind.
    fn cancel_all(&self) {
        for task in &self.spawned {
            if let Err(err) = task.call_method0(intern!(self.py, "cancel")) {
                err.write_unraisable(self.py, Some(task));
            }
        }
    }
}

fn fan_out<'py>(
    py: Python<'py>,
    executor: &Bound<'py, Executor>,
    jobs: Vec<Job<'_, 'py>>,
    ctx: &Bound<'py, PyAny>,
    finish: BatchFinish,
) -> PyResult<Batch> {
    if jobs.is_empty() {
        return Ok(Batch::finished(py, finish));
    }
    let mut spawner = Spawner::new(py)?;
    let mut slots = Slots { list: PyList::empty(py), tasks: Vec::new() };
    let key = BatchKey::begin(ctx)?;
    let outcome = fill_slots(py, executor, jobs, ctx, key.as_ref(), &mut spawner, &mut slots);
    if let Err(err) = outcome {
        spawner.cancel_all();
        if let Some(Err(end_err)) = key.map(|key| key.end(ctx)) {
            end_err.write_unraisable(py, Some(ctx));
        }
        return Err(err);
    }
    let Slots { list: slots, tasks: task_slots } = slots;
    let tasks = if task_slots.is_empty() || (spawner.eager && all_finished_cleanly(py, &task_slots)?) {
        // Eagerly started Tasks that already finished: nothing to wait for.
        None
    } else {
        Some(
            PyList::new(py, task_slots.iter().map(|(i, _)| slots.get_item(*i)).collect::<PyResult<Vec<_>>>()?)?
                .unbind(),
        )
    };
    let key = key.map(|key| (ctx.clone().unbind(), key));
    Ok(Batch::new(slots.unbind(), task_slots, tasks, finish, key))
}

/// Whether every Task already finished with a result (no exception, not cancelled).
fn all_finished_cleanly(py: Python<'_>, task_slots: &[(usize, Py<Run>)]) -> PyResult<bool> {
    Ok(task_slots.iter().all(|(_, run)| run.try_borrow(py).is_ok_and(|run| run.has_result())))
}

/// A batch's results in spec order: values, or the Tasks still computing them (with
/// the Run each Task drives).
struct Slots<'py> {
    list: Bound<'py, PyList>,
    tasks: Vec<(usize, Py<Run>)>,
}

fn fill_slots<'py>(
    py: Python<'py>,
    executor: &Bound<'py, Executor>,
    jobs: Vec<Job<'_, 'py>>,
    ctx: &Bound<'py, PyAny>,
    key: Option<&BatchKey>,
    spawner: &mut Spawner<'py>,
    slots: &mut Slots<'py>,
) -> PyResult<()> {
    let exec = executor.get();
    let single = |items: Vec<Item>| {
        executor_driver(executor, ctx, items, StopRule::Never, Finish::Single)
            .in_batch(key.map(|key| key.clone_ref(py)))
    };
    // On Python < 3.12 a Task's first step runs later, at the loop's next turn: once one
    // is waiting, every later action must wait behind it to keep pystator's order.
    let mut waiting = false;
    let mut view = None;
    for mut job in jobs {
        let mut push_task = |run: Run, spawn: &mut dyn FnMut(Py<Run>) -> PyResult<Bound<'py, PyAny>>| -> PyResult<()> {
            let run = Py::new(py, run)?;
            let task = spawn(run.clone_ref(py))?;
            slots.tasks.push((slots.list.len(), run));
            slots.list.append(task)
        };
        if waiting {
            push_task(Run::detached(single(vec![Item::Job(job.unbind())]), None), &mut |r| spawner.fresh(r))?;
            continue;
        }
        let inline_entry = match exec.prepare(py, &job, ctx, &mut view) {
            Ok(Prepared::Done(result)) => {
                slots.list.append(result.into_object(py)?)?;
                continue;
            }
            Ok(Prepared::Builtin) => {
                push_task(Run::detached(single(vec![Item::Builtin(job.unbind())]), None), &mut |r| spawner.fresh(r))?;
                waiting = !spawner.eager;
                continue;
            }
            Ok(Prepared::Run(entry)) if !entry.is_async && job.timeout.is_none() => entry.clone(),
            Ok(Prepared::Run(entry)) => {
                push_task(Run::detached(single(vec![Item::Prepared(job.unbind(), entry.clone())]), None), &mut |r| {
                    spawner.fresh(r)
                })?;
                waiting = !spawner.eager;
                continue;
            }
            Err(err)
                if err.is_instance(py, defs(py)?.action_not_found.bind(py))
                    || (job.when.is_some() && crate::util::is_exception(py, &err)) =>
            {
                // Strict mode, or (0.0.47) its `when` failed to evaluate: the action's
                // Task raises, while the others still run, as in asyncio.gather. A
                // missing action's `when` held: it is not evaluated again.
                if err.is_instance(py, defs(py)?.action_not_found.bind(py)) {
                    job.when = None;
                }
                push_task(Run::detached(single(vec![Item::Job(job.unbind())]), None), &mut |r| spawner.fresh(r))?;
                waiting = !spawner.eager;
                continue;
            }
            Err(err) => return Err(err),
        };
        let context = CopiedContext::new(py)?;
        let mut driver = single(vec![Item::Prepared(job.unbind(), inline_entry)]);
        match context.run(|| driver.advance(py, None))? {
            Step::Return(result) => slots.list.append(result)?,
            Step::Yield(pending) => {
                push_task(Run::detached(driver, Some(pending)), &mut |r| spawner.continuing(r, &context))?;
            }
        }
    }
    Ok(())
}
