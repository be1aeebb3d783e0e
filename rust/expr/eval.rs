//! Walks a compiled expression against the caller's names, as simpleeval's `_eval` does:
//! the same order of evaluation, Python's own operators on Python values, and
//! simpleeval's check of every node's value ([`Simpleeval::check`]).

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::compile::{BinaryOp, Callee, CompareOp, Node, Statement, UnaryOp};
use super::rules::Simpleeval;

/// One evaluation: the names (a dict, or an instance of a subclass that is not
/// callable), the functions (an exact dict) and the source text (for messages).
pub struct Scope<'a, 'py> {
    pub py: Python<'py>,
    pub rules: &'static Simpleeval,
    pub names: &'a Bound<'py, PyDict>,
    pub functions: &'a Bound<'py, PyDict>,
    pub source: &'a Bound<'py, PyAny>,
}

impl<'py> Scope<'_, 'py> {
    /// The statement's value, as `SimpleEval.eval` returns it.
    pub fn statement(&self, statement: &Statement) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let value = match statement {
            Statement::Expr(node) => self.eval(node)?,
            Statement::Assign { value, augmented } => {
                self.rules.warn_assignment(py, self.source, *augmented)?;
                self.eval(value)?
            }
            Statement::Import => {
                return Err(self.rules.feature_not_available(py, "Sorry, 'import' is not allowed.".into()))
            }
            Statement::Unsupported(kind) => return Err(self.unsupported(kind)),
        };
        // the statement node's own value is checked too
        self.rules.check(py, &value)?;
        Ok(value)
    }

    /// simpleeval's refusal of a node it has no handler for, raised while handling the
    /// KeyError of its handler table (keyed by the node's class).
    fn unsupported(&self, kind: &Py<pyo3::types::PyType>) -> PyErr {
        let py = self.py;
        let kind = kind.bind(py);
        let name = kind.name().map(|n| n.to_string()).unwrap_or_default();
        let err = self.rules.feature_not_available(py, format!("Sorry, {name} is not available in this evaluator"));
        err.set_context(py, Some(PyKeyError::new_err(kind.clone().unbind())));
        err
    }

    /// A node's value, checked.
    fn eval(&self, node: &Node) -> PyResult<Bound<'py, PyAny>> {
        let value = self.value(node)?;
        self.rules.check(self.py, &value)?;
        Ok(value)
    }

    fn value(&self, node: &Node) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        match node {
            Node::Constant { value, len } => {
                if let Some(len) = *len {
                    if self.rules.too_long(py, len)? {
                        return Err(self.rules.literal_too_long(py, len));
                    }
                }
                Ok(value.bind(py).clone())
            }
            Node::Name(name) => self.name(name.bind(py)),
            Node::Unary(op, operand) => {
                let operand = self.eval(operand)?;
                match op {
                    UnaryOp::Not => Ok(pyo3::types::PyBool::new(py, !operand.is_truthy()?).to_owned().into_any()),
                    UnaryOp::Neg => operand.neg(),
                    UnaryOp::Pos => operand.pos(),
                    UnaryOp::Invert => operand.bitnot(),
                }
            }
            Node::Binary(op, left, right) => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                let rules = self.rules;
                match op {
                    BinaryOp::Add => rules.add(py, &a, &b),
                    BinaryOp::Sub => a.sub(&b),
                    BinaryOp::Mul => rules.mul(py, &a, &b),
                    BinaryOp::Div => a.div(&b),
                    BinaryOp::FloorDiv => a.floor_div(&b),
                    BinaryOp::Mod => a.rem(&b),
                    BinaryOp::Pow => rules.pow(py, &a, &b),
                    BinaryOp::LShift => rules.shift(py, &a, &b, true),
                    BinaryOp::RShift => rules.shift(py, &a, &b, false),
                    BinaryOp::BitOr => a.bitor(&b),
                    BinaryOp::BitXor => a.bitxor(&b),
                    BinaryOp::BitAnd => a.bitand(&b),
                }
            }
            Node::And(values) => {
                let mut last = pyo3::types::PyBool::new(py, false).to_owned().into_any();
                for value in values {
                    last = self.eval(value)?;
                    if !last.is_truthy()? {
                        break;
                    }
                }
                Ok(last)
            }
            Node::Or(values) => {
                let mut last = pyo3::types::PyBool::new(py, false).to_owned().into_any();
                for value in values {
                    last = self.eval(value)?;
                    if last.is_truthy()? {
                        break;
                    }
                }
                Ok(last)
            }
            Node::Compare(left, chain) => {
                let mut right = self.eval(left)?;
                let mut outcome = pyo3::types::PyBool::new(py, true).to_owned().into_any();
                for (op, comparator) in chain {
                    if !outcome.is_truthy()? {
                        break;
                    }
                    let left = right;
                    right = self.eval(comparator)?;
                    outcome = compare(*op, &left, &right)?;
                }
                Ok(outcome)
            }
            Node::IfElse { test, body, orelse } => {
                if self.eval(test)?.is_truthy()? {
                    self.eval(body)
                } else {
                    self.eval(orelse)
                }
            }
            Node::Call { func, args, keywords } => self.call(func, args, keywords),
            Node::Subscript(container, key) => {
                let container = self.eval(container)?;
                let key = self.eval(key)?;
                container.get_item(key)
            }
            Node::Attribute(value, attr) => {
                let attr = attr.bind(py);
                self.rules.check_attribute_name(py, attr)?;
                let value = self.eval(value)?;
                self.rules.attribute(py, &value, attr, self.source)
            }
            Node::Slice(bounds) => {
                let mut parts: [Bound<'py, PyAny>; 3] =
                    [py.None().into_bound(py), py.None().into_bound(py), py.None().into_bound(py)];
                for (part, bound) in parts.iter_mut().zip(bounds) {
                    if let Some(bound) = bound {
                        *part = self.eval(bound)?;
                    }
                }
                // SAFETY: PySlice_New returns a new reference or NULL with an exception set.
                unsafe {
                    Bound::from_owned_ptr_or_err(
                        py,
                        ffi::PySlice_New(parts[0].as_ptr(), parts[1].as_ptr(), parts[2].as_ptr()),
                    )
                }
            }
            Node::Joined(parts) => {
                let pieces = PyList::empty(py);
                for part in parts {
                    let piece = self.eval(part)?.str()?;
                    if self.rules.too_long(py, piece.len()?)? {
                        return Err(self
                            .rules
                            .iterable_too_long(py, "Sorry, I will not evaluate something this long.".into()));
                    }
                    pieces.append(piece)?;
                }
                Ok(intern!(py, "").call_method1(intern!(py, "join"), (pieces,))?)
            }
            Node::Formatted { value, spec } => match spec {
                Some(spec) => {
                    let spec = self.eval(spec)?;
                    let template = intern!(py, "{:").add(spec)?.add(intern!(py, "}"))?;
                    let value = self.eval(value)?;
                    template.call_method1(intern!(py, "format"), (value,))
                }
                None => self.eval(value),
            },
            Node::Unsupported(kind) => Err(self.unsupported(kind)),
        }
    }

    /// A name: `names[name]` first (a KeyError or TypeError there passes over to the
    /// functions), then the functions, else NameNotDefined.
    fn name(&self, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        let found = if self.names.is_exact_instance_of::<PyDict>() {
            self.names.get_item(name)
        } else {
            // a subclass: its own __getitem__ / __missing__, as `names[name]` runs them
            self.names.as_any().get_item(name).map(Some)
        };
        match found {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            // simpleeval passes over a KeyError or TypeError of the lookup (a key's __eq__ may raise)
            Err(err) if err.is_instance_of::<PyKeyError>(self.py) || err.is_instance_of::<PyTypeError>(self.py) => {}
            Err(err) => return Err(err),
        }
        if let Some(function) = self.functions.get_item(name)? {
            return Ok(function);
        }
        Err(self.rules.name_not_defined(self.py, name, self.source))
    }

    fn call(&self, func: &Callee, args: &[Node], keywords: &[(Py<PyString>, Node)]) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        let func = match func {
            Callee::Attribute(node) => self.eval(node)?,
            Callee::Name(name) => {
                let name = name.bind(py);
                let Some(func) = self.functions.get_item(name)? else {
                    // simpleeval raises it while handling the table's KeyError
                    let err = self.rules.function_not_defined(py, name, self.source);
                    err.set_context(py, Some(PyKeyError::new_err(name.clone().unbind())));
                    return Err(err);
                };
                self.rules.check_callee(py, &func)?;
                func
            }
            Callee::Other(kind) => {
                // raised while handling the AttributeError of reading the callee's `id`
                let err = self.rules.feature_not_available(py, "Lambda Functions not implemented".into());
                let cause = format!("'{kind}' object has no attribute 'id'");
                err.set_context(py, Some(pyo3::exceptions::PyAttributeError::new_err(cause)));
                return Err(err);
            }
        };
        // simpleeval calls `func(*(generator), **dict(generator))`: the keywords are
        // evaluated first, the positional arguments when the call unpacks them, and a
        // StopIteration inside either generator becomes RuntimeError (PEP 479)
        let kwargs = match keywords.is_empty() {
            true => None,
            false => {
                let kwargs = PyDict::new(py);
                for (name, node) in keywords {
                    let value = self.eval(node).map_err(|err| in_generator(py, err))?;
                    // simpleeval checks the (name, value) pair its keyword node evaluates to
                    self.rules.check(py, &value).map_err(|err| in_generator(py, err))?;
                    kwargs.set_item(name.bind(py), value)?;
                }
                Some(kwargs)
            }
        };
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.eval(arg).map_err(|err| in_generator(py, err))?);
        }
        let args = PyTuple::new(py, values)?;
        match kwargs {
            None => func.call1(args),
            Some(kwargs) => func.call(args, Some(&kwargs)),
        }
    }
}

/// An exception leaving a generator expression's frame: StopIteration becomes
/// `RuntimeError("generator raised StopIteration")` caused by it, as CPython does.
fn in_generator(py: Python<'_>, err: PyErr) -> PyErr {
    if !err.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) {
        return err;
    }
    let replaced = pyo3::exceptions::PyRuntimeError::new_err("generator raised StopIteration");
    replaced.set_cause(py, Some(err.clone_ref(py)));
    replaced.set_context(py, Some(err));
    replaced
}

fn compare<'py>(op: CompareOp, left: &Bound<'py, PyAny>, right: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::basic::CompareOp as Rich;
    let py = left.py();
    let boolean = |value: bool| pyo3::types::PyBool::new(py, value).to_owned().into_any();
    match op {
        CompareOp::Eq => left.rich_compare(right, Rich::Eq),
        CompareOp::NotEq => left.rich_compare(right, Rich::Ne),
        CompareOp::Lt => left.rich_compare(right, Rich::Lt),
        CompareOp::LtE => left.rich_compare(right, Rich::Le),
        CompareOp::Gt => left.rich_compare(right, Rich::Gt),
        CompareOp::GtE => left.rich_compare(right, Rich::Ge),
        CompareOp::In => Ok(boolean(right.contains(left)?)),
        CompareOp::NotIn => Ok(boolean(!right.contains(left)?)),
        CompareOp::Is => Ok(boolean(left.is(right))),
        CompareOp::IsNot => Ok(boolean(!left.is(right))),
    }
}
