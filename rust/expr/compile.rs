//! From source text to a tree the evaluator walks: Python's own parser (`ast.parse`, as
//! simpleeval parses) gives the syntax tree, which is turned into [`Node`]s once. What
//! the tree does not cover is decided here too: such an expression is kept as
//! [`Compiled::Simpleeval`] and runs on simpleeval itself.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyType};

/// Expressions nested deeper than this run on simpleeval, which then fails (or not) with
/// RecursionError exactly as it does alone.
const MAX_DEPTH: u32 = 100;

/// Sources longer than this are not compiled (nor kept): simpleeval parses them each time.
pub const MAX_SOURCE: usize = 16 * 1024;

#[derive(Clone, Copy, Debug)]
pub enum UnaryOp {
    Not,
    Neg,
    Pos,
    Invert,
}

#[derive(Clone, Copy, Debug)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    LShift,
    RShift,
    BitOr,
    BitXor,
    BitAnd,
}

#[derive(Clone, Copy, Debug)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtE,
    Gt,
    GtE,
    In,
    NotIn,
    Is,
    IsNot,
}

/// One node of an expression, as simpleeval evaluates it.
pub enum Node {
    /// A literal; `len` is its length when it has one (checked against `MAX_STRING_LENGTH`).
    Constant {
        value: Py<PyAny>,
        len: Option<usize>,
    },
    Name(Py<PyString>),
    Unary(UnaryOp, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Compare(Box<Node>, Vec<(CompareOp, Node)>),
    IfElse {
        test: Box<Node>,
        body: Box<Node>,
        orelse: Box<Node>,
    },
    Call {
        func: Callee,
        args: Vec<Node>,
        keywords: Vec<(Py<PyString>, Node)>,
    },
    Subscript(Box<Node>, Box<Node>),
    Attribute(Box<Node>, Py<PyString>),
    Slice([Option<Box<Node>>; 3]),
    /// An f-string: its parts, each made a str.
    Joined(Vec<Node>),
    /// `{value:spec}` inside an f-string (the conversion is ignored, as simpleeval does).
    Formatted {
        value: Box<Node>,
        spec: Option<Box<Node>>,
    },
    /// A syntax simpleeval has no handler for (the node's class): FeatureNotAvailable
    /// when reached.
    Unsupported(Py<PyType>),
}

pub enum Callee {
    Name(Py<PyString>),
    Attribute(Box<Node>),
    /// Anything else (a lambda, a call's result, a subscript; its node's kind): refused
    /// when reached.
    Other(String),
}

/// The first statement of the source, as simpleeval treats it.
pub enum Statement {
    Expr(Node),
    /// An assignment (`augmented`: `x += ...`): warned about, then its value evaluated.
    Assign {
        value: Node,
        augmented: bool,
    },
    /// `import`: refused.
    Import,
    /// A statement simpleeval has no handler for (the node's class).
    Unsupported(Py<PyType>),
}

/// What one source text compiles to.
pub enum Compiled {
    Native {
        statement: Statement,
        multiple: bool,
    },
    /// Runs on simpleeval: with the parsed first statement when there is one (and
    /// `multiple` warned about here), else from the source (simpleeval parses and warns).
    Simpleeval {
        parsed: Option<Py<PyAny>>,
        multiple: bool,
    },
}

/// Whether the source is compiled and kept: not when Python's parser may warn about it
/// (the warning must come on every evaluation, as simpleeval's parse gives it) or it is
/// too long to keep.
pub fn worth_compiling(text: &str) -> bool {
    text.len() <= MAX_SOURCE && !text.contains('\\') && !number_then_letters(text)
}

/// True when a numeric literal runs straight into letters it cannot contain (`1if`,
/// `0x1for`): Python's tokenizer warns about those. Errs on the side of true.
fn number_then_letters(text: &str) -> bool {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    // A non-ASCII character before a digit may be whitespace that `strip()` removes
    // (U+00A0, U+3000), so only ASCII identifier characters make a digit part of a name.
    let ascii_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts_number = (b.is_ascii_digit() && (i == 0 || !ascii_ident(bytes[i - 1])))
            || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !starts_number {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() {
            let c = bytes[i];
            let signed_exponent = (c == b'+' || c == b'-') && matches!(bytes[i - 1], b'e' | b'E');
            if ident(c) || c == b'.' || signed_exponent {
                i += 1;
            } else {
                break;
            }
        }
        let token = &text[start..i];
        let radix_letters: &[u8] = match token.as_bytes().get(..2) {
            Some(b"0x" | b"0X") => b"xXabcdefABCDEF",
            Some(b"0o" | b"0O") => b"oO",
            Some(b"0b" | b"0B") => b"bB",
            _ => b"eEjJ",
        };
        if token.bytes().any(|c| (c.is_ascii_alphabetic() && !radix_letters.contains(&c)) || c >= 0x80) {
            return true;
        }
    }
    false
}

/// Compiles `source` (an exact str). `Err` when Python cannot parse it: then nothing is
/// kept and simpleeval runs the source, raising what it raises.
pub fn compile(py: Python<'_>, source: &Bound<'_, PyString>) -> PyResult<Compiled> {
    let stripped = source.call_method0(pyo3::intern!(py, "strip"))?;
    let module = py.import(pyo3::intern!(py, "ast"))?.call_method1(pyo3::intern!(py, "parse"), (stripped,))?;
    let body = module.getattr(pyo3::intern!(py, "body"))?.cast_into::<PyList>()?;
    if body.is_empty() {
        // simpleeval's "cannot evaluate empty string"
        return Ok(Compiled::Simpleeval { parsed: None, multiple: false });
    }
    let multiple = body.len() > 1;
    let first = body.get_item(0)?;
    match statement(&first) {
        Ok(statement) => Ok(Compiled::Native { statement, multiple }),
        Err(Uncovered) => Ok(Compiled::Simpleeval { parsed: Some(first.unbind()), multiple }),
    }
}

/// A construct this compiler leaves to simpleeval.
struct Uncovered;

type Converted<T> = Result<T, Uncovered>;

fn kind(node: &Bound<'_, PyAny>) -> String {
    node.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn field<'py>(node: &Bound<'py, PyAny>, name: &str) -> Converted<Bound<'py, PyAny>> {
    node.getattr(name).map_err(|_| Uncovered)
}

fn statement(node: &Bound<'_, PyAny>) -> Converted<Statement> {
    Ok(match kind(node).as_str() {
        "Expr" => Statement::Expr(expression(&field(node, "value")?, 0)?),
        kind @ ("Assign" | "AugAssign") => {
            Statement::Assign { value: expression(&field(node, "value")?, 0)?, augmented: kind == "AugAssign" }
        }
        "Import" => Statement::Import,
        _ => Statement::Unsupported(node.get_type().unbind()),
    })
}

fn boxed(node: &Bound<'_, PyAny>, name: &str, depth: u32) -> Converted<Box<Node>> {
    Ok(Box::new(expression(&field(node, name)?, depth + 1)?))
}

fn list<'py>(node: &Bound<'py, PyAny>, name: &str) -> Converted<Vec<Bound<'py, PyAny>>> {
    let items = field(node, name)?;
    let list = items.cast::<PyList>().map_err(|_| Uncovered)?;
    Ok(list.iter().collect())
}

fn expressions(node: &Bound<'_, PyAny>, name: &str, depth: u32) -> Converted<Vec<Node>> {
    list(node, name)?.iter().map(|item| expression(item, depth + 1)).collect()
}

fn optional(node: &Bound<'_, PyAny>, name: &str, depth: u32) -> Converted<Option<Box<Node>>> {
    let value = field(node, name)?;
    if value.is_none() {
        Ok(None)
    } else {
        Ok(Some(Box::new(expression(&value, depth + 1)?)))
    }
}

fn identifier(node: &Bound<'_, PyAny>, name: &str) -> Converted<Py<PyString>> {
    let value = field(node, name)?;
    let text = value.cast_into::<PyString>().map_err(|_| Uncovered)?;
    Ok(crate::util::shared_name(text).unbind())
}

fn expression(node: &Bound<'_, PyAny>, depth: u32) -> Converted<Node> {
    if depth > MAX_DEPTH {
        return Err(Uncovered);
    }
    let kind = kind(node);
    Ok(match kind.as_str() {
        "Constant" => {
            let value = field(node, "value")?;
            let len = if value.hasattr("__len__").map_err(|_| Uncovered)? {
                Some(value.len().map_err(|_| Uncovered)?)
            } else {
                None
            };
            Node::Constant { value: value.unbind(), len }
        }
        "Name" => Node::Name(identifier(node, "id")?),
        "UnaryOp" => {
            let op = match self::kind(&field(node, "op")?).as_str() {
                "Not" => UnaryOp::Not,
                "USub" => UnaryOp::Neg,
                "UAdd" => UnaryOp::Pos,
                "Invert" => UnaryOp::Invert,
                _ => return Err(Uncovered),
            };
            Node::Unary(op, boxed(node, "operand", depth)?)
        }
        "BinOp" => {
            let op = match self::kind(&field(node, "op")?).as_str() {
                "Add" => BinaryOp::Add,
                "Sub" => BinaryOp::Sub,
                "Mult" => BinaryOp::Mul,
                "Div" => BinaryOp::Div,
                "FloorDiv" => BinaryOp::FloorDiv,
                "Mod" => BinaryOp::Mod,
                "Pow" => BinaryOp::Pow,
                "LShift" => BinaryOp::LShift,
                "RShift" => BinaryOp::RShift,
                "BitOr" => BinaryOp::BitOr,
                "BitXor" => BinaryOp::BitXor,
                "BitAnd" => BinaryOp::BitAnd,
                // MatMult: simpleeval's OperatorNotDefined names the parsed node object
                _ => return Err(Uncovered),
            };
            Node::Binary(op, boxed(node, "left", depth)?, boxed(node, "right", depth)?)
        }
        "BoolOp" => {
            let values = expressions(node, "values", depth)?;
            match self::kind(&field(node, "op")?).as_str() {
                "And" => Node::And(values),
                "Or" => Node::Or(values),
                _ => return Err(Uncovered),
            }
        }
        "Compare" => {
            let ops = list(node, "ops")?;
            let comparators = expressions(node, "comparators", depth)?;
            if ops.len() != comparators.len() {
                return Err(Uncovered);
            }
            let mut chain = Vec::with_capacity(ops.len());
            for (op, comparator) in ops.iter().zip(comparators) {
                let op = match self::kind(op).as_str() {
                    "Eq" => CompareOp::Eq,
                    "NotEq" => CompareOp::NotEq,
                    "Lt" => CompareOp::Lt,
                    "LtE" => CompareOp::LtE,
                    "Gt" => CompareOp::Gt,
                    "GtE" => CompareOp::GtE,
                    "In" => CompareOp::In,
                    "NotIn" => CompareOp::NotIn,
                    "Is" => CompareOp::Is,
                    "IsNot" => CompareOp::IsNot,
                    _ => return Err(Uncovered),
                };
                chain.push((op, comparator));
            }
            Node::Compare(boxed(node, "left", depth)?, chain)
        }
        "IfExp" => Node::IfElse {
            test: boxed(node, "test", depth)?,
            body: boxed(node, "body", depth)?,
            orelse: boxed(node, "orelse", depth)?,
        },
        "Call" => {
            let func = field(node, "func")?;
            let func = match self::kind(&func).as_str() {
                "Name" => Callee::Name(identifier(&func, "id")?),
                "Attribute" => Callee::Attribute(Box::new(expression(&func, depth + 1)?)),
                other => Callee::Other(other.to_owned()),
            };
            let args = expressions(node, "args", depth)?;
            let mut keywords = Vec::new();
            for keyword in list(node, "keywords")? {
                // `**mapping` (no name) is left to simpleeval: its call fails in CPython's own words
                let name = field(&keyword, "arg")?;
                if name.is_none() {
                    return Err(Uncovered);
                }
                keywords.push((identifier(&keyword, "arg")?, expression(&field(&keyword, "value")?, depth + 1)?));
            }
            Node::Call { func, args, keywords }
        }
        "Subscript" => Node::Subscript(boxed(node, "value", depth)?, boxed(node, "slice", depth)?),
        "Attribute" => Node::Attribute(boxed(node, "value", depth)?, identifier(node, "attr")?),
        "Slice" => Node::Slice([
            optional(node, "lower", depth)?,
            optional(node, "upper", depth)?,
            optional(node, "step", depth)?,
        ]),
        "JoinedStr" => Node::Joined(expressions(node, "values", depth)?),
        "FormattedValue" => {
            Node::Formatted { value: boxed(node, "value", depth)?, spec: optional(node, "format_spec", depth)? }
        }
        // Python < 3.9 wraps subscripts in Index; simpleeval unwraps it
        "Index" => expression(&field(node, "value")?, depth + 1)?,
        _ => Node::Unsupported(node.get_type().unbind()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_running_into_letters_are_found() {
        for risky in
            ["1if x else 2", "0x1for", "1and 2", "x or 1in y", ".5or 1", "1.and", "0b1or 1", "3é", "\u{a0}1if 1 else 2"]
        {
            assert!(number_then_letters(risky), "{risky}");
        }
        for fine in ["1 if x else 2", "0x1F + 1", "1e5", "1e-5j", "1_000", "x1if", "a.b1", "0o17", "2.5E+3", "1j"] {
            assert!(!number_then_letters(fine), "{fine}");
        }
    }
}
