//! Compiled expressions by source text: a bounded table that readers load without a
//! lock (an immutable snapshot behind `ArcSwap`, as the registry keeps its actions).
//! A miss compiles outside any lock, then publishes a new snapshot; a full table starts
//! over, so memory stays bounded whatever sources arrive.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use arc_swap::ArcSwap;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use pyo3::types::PyString;

use super::compile::{compile, worth_compiling, Compiled, MAX_SOURCE};

/// At most this many sources are kept.
const CAPACITY: usize = 4096;

struct Entry {
    source: Py<PyString>,
    compiled: Compiled,
}

/// Python's hash of the source (cached in the str object) is the key as it is.
#[derive(Default)]
struct PyHash(u64);

impl Hasher for PyHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_isize(&mut self, n: isize) {
        self.0 = n as u64;
    }
}

type Table = HashMap<isize, Vec<Arc<Entry>>, BuildHasherDefault<PyHash>>;

static TABLE: LazyLock<ArcSwap<Table>> = LazyLock::new(|| ArcSwap::from_pointee(Table::default()));
static WRITER: Mutex<()> = Mutex::new(());
static COMPILING: Mutex<()> = Mutex::new(());

fn same_text(a: &Bound<'_, PyString>, b: &Bound<'_, PyString>) -> bool {
    // SAFETY: both are live exact str objects.
    a.is(b) || unsafe { ffi::PyUnicode_Compare(a.as_ptr(), b.as_ptr()) == 0 }
}

/// Runs `f` with what `source` compiles to, or with None when it is not compiled (the
/// parser rejects it, may warn about it, or it is too long): then simpleeval runs it.
pub fn with_compiled<R>(
    py: Python<'_>,
    source: &Bound<'_, PyString>,
    f: impl FnOnce(Option<&Compiled>) -> PyResult<R>,
) -> PyResult<R> {
    let hash = source.hash()?;
    let table = TABLE.load();
    if let Some(entry) =
        table.get(&hash).and_then(|bucket| bucket.iter().find(|e| same_text(e.source.bind(py), source)))
    {
        return f(Some(&entry.compiled));
    }
    drop(table);
    let Ok(text) = source.to_str() else { return f(None) };
    if text.len() > MAX_SOURCE {
        return f(None);
    }
    let compiled = if worth_compiling(text) {
        match compile_alone(py, source) {
            Ok(compiled) => compiled,
            // nothing kept: simpleeval parses it again and raises what the parser raises
            Err(_) => return f(None),
        }
    } else {
        Compiled::Simpleeval { parsed: None, multiple: false }
    };
    let entry = Arc::new(Entry { source: source.clone().unbind(), compiled });
    publish(py, hash, entry.clone());
    f(Some(&entry.compiled))
}

thread_local! {
    /// Whether this thread is inside [`compile_alone`] (a finalizer run by the parser's
    /// allocations may evaluate an expression of its own).
    static COMPILING_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Compiles with no other thread compiling: CPython 3.11's `ast` module keeps its
/// conversion depth per interpreter, so two threads converting trees at once (one
/// switched out by a finalizer mid-way) can fail with "AST constructor recursion depth
/// mismatch". The lock is taken detached from Python, and not again by a nested compile.
fn compile_alone(py: Python<'_>, source: &Bound<'_, PyString>) -> PyResult<Compiled> {
    if COMPILING_HERE.get() {
        return compile(py, source);
    }
    let _alone = COMPILING.lock_py_attached(py).unwrap_or_else(|poisoned| poisoned.into_inner());
    COMPILING_HERE.set(true);
    let compiled = compile(py, source);
    COMPILING_HERE.set(false);
    compiled
}

fn publish(py: Python<'_>, hash: isize, entry: Arc<Entry>) {
    let writer = WRITER.lock_py_attached(py).unwrap_or_else(|poisoned| poisoned.into_inner());
    let current = TABLE.load();
    let mut table = if current.values().map(Vec::len).sum::<usize>() >= CAPACITY {
        Table::default()
    } else {
        Table::clone(&current)
    };
    let bucket = table.entry(hash).or_default();
    if !bucket.iter().any(|e| same_text(e.source.bind(py), entry.source.bind(py))) {
        bucket.push(entry);
    }
    let previous = TABLE.swap(Arc::new(table));
    drop(current);
    drop(writer);
    // a full table's entries are released here, outside the lock
    drop(previous);
}

/// How many sources are kept now (for tests).
pub fn len() -> usize {
    TABLE.load().values().map(Vec::len).sum()
}
