"""Hypothesis strategies and comparison helpers for ``test_expressions_differential.py``.

:func:`expressions` draws expression *source text* (valid or not) and :func:`contexts`
draws the names dict it runs against; :func:`observe` runs one evaluator on a private
deep copy of the names and returns a canonical, printable observation (value or
exception, warnings, the names afterwards), so two evaluators agree when their
observations are equal.

Nothing here is taken from simpleeval's own tests: the grammar is written from the
rules of simpleeval 1.0.8's source (its size limits, refusals and quirks), so that
every rule is reached often: limits (``**``, ``<<``, ``*``, ``+``, literals, f-string
pieces), refused nodes and attributes, the names-then-functions lookup, the
"modules and forbidden functions" check on every intermediate result, the dict index
fallback of attribute access, f-string conversions (ignored by simpleeval), evaluation
order (``Probe.bump`` logs its calls into the names), parse warnings and syntax errors.

Safety: a broken engine must not be able to hurt the machine, so the names never hold
a callable that is dangerous when called by mistake (no ``eval``/``exec``/``open``/
``os.system`` in generated contexts, only ``getattr``/``type``/``repr``/... as
forbidden functions), modules are harmless (``math`` and a fake module), and the sizes
a method call or ``**`` can be asked to build are bounded.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import math
import operator
import random
import re
import types
import warnings
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import simpleeval
from hypothesis import strategies as st

# ---------------------------------------------------------------------------
# Values placed in the names
# ---------------------------------------------------------------------------


class Record:
    """A plain object with attributes (the default repr, with its address)."""

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class Probe:
    """Logs every ``bump`` call (evaluation order and count show in the names)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.log: list[Any] = []

    def bump(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append((args, sorted(kwargs.items())))
        return args[0] if args else len(self.log)

    def __repr__(self) -> str:
        return f"Probe({self.tag!r}, {self.log!r})"


class Sized:
    """``__len__`` returns what it was given: feeds ``len``, truthiness and the
    ``hasattr(x, '__len__')`` checks of simpleeval's ``+`` and ``*``."""

    def __init__(self, n: Any) -> None:
        self.n = n

    def __len__(self) -> Any:
        return self.n

    def __add__(self, other: Any) -> str:
        return "added"

    def __mul__(self, other: Any) -> str:
        return "multiplied"

    def __repr__(self) -> str:
        return f"Sized({self.n!r})"


class Weird:
    """``__eq__`` returns a string (or raises); unhashable because of it."""

    def __init__(self, raises: bool) -> None:
        self.raises = raises

    def __eq__(self, other: object) -> Any:
        if self.raises:
            raise ValueError("no equality here")
        return "eq"

    __hash__ = None  # type: ignore[assignment]

    def __lt__(self, other: object) -> Any:
        return []  # falsy, not a bool: stops a comparison chain

    def __bool__(self) -> bool:
        if self.raises:
            raise RuntimeError("no truth here")
        return True

    def __repr__(self) -> str:
        return f"Weird({self.raises!r})"


class Dyn:
    """``__getattr__`` answers most names, refuses some (AttributeError / TypeError:
    the index fallback), and raises KeyError for ``boom`` (not caught by simpleeval)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name.startswith("missing"):
            raise AttributeError(name)
        if name == "boom":
            raise KeyError(name)
        if name == "type_err":
            raise TypeError("no attribute of that kind")
        return f"{self.prefix}:{name}"

    def __repr__(self) -> str:
        return f"Dyn({self.prefix!r})"


class Indexed:
    """``__getitem__`` doubles keys or raises IndexError (which the attribute fallback
    does not catch)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __getitem__(self, key: Any) -> Any:
        if self.mode == "index_error":
            raise IndexError(f"no item {key!r}")
        if self.mode == "key_error":
            raise KeyError(key)
        return key * 2

    def __iter__(self) -> Any:
        # bounded: `in`, sum(), any() ... would otherwise call __getitem__(0, 1, 2, ...)
        # until it raises, which in "double" mode is never (simpleeval hangs there too)
        return iter((1, 2))

    def __repr__(self) -> str:
        return f"Indexed({self.mode!r})"


class Caller:
    """Callable: reaches the ``item in DISALLOW_FUNCTIONS`` check (hashable)."""

    def __call__(self, *args: Any) -> Any:
        return ("called", args)

    def __repr__(self) -> str:
        return "Caller()"


class UnhashableCaller(Caller):
    """Callable and unhashable: ``item in DISALLOW_FUNCTIONS`` raises TypeError."""

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "UnhashableCaller()"


class BadStr:
    """``__str__`` returns a non-string or raises; ``__format__`` has its own rules."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __str__(self) -> Any:
        if self.mode == "raise":
            raise ValueError("no str here")
        if self.mode == "int":
            return 42
        return "bad-str"

    def __format__(self, spec: str) -> str:
        if spec == "":
            return str(self)
        return f"<{spec}>"

    def __repr__(self) -> str:
        return f"BadStr({self.mode!r})"


class Editor:
    """Changes the names dict while an expression runs (``ed.put('a', 1)``)."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def put(self, key: str = "a", value: Any = None) -> Any:
        self.names[key] = value
        return value

    def drop(self, key: str = "a") -> Any:
        return self.names.pop(key, "absent")

    def __repr__(self) -> str:
        return f"Editor(<{len(self.names)} names>)"


class CountingList(list):
    """Counts how often it is iterated: simpleeval's check of every node's value walks
    lists, so the count shows how many checks ran."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.iterations = 0

    def __iter__(self) -> Any:
        self.iterations += 1
        return super().__iter__()

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingList:
        new = CountingList()
        memo[id(self)] = new
        new.extend([copy.deepcopy(item, memo) for item in list.__iter__(self)])
        new.iterations = self.iterations
        return new


class CountingDict(dict):
    """Counts the calls of ``values()`` (how simpleeval walks a dict it checks)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.values_calls = 0

    def values(self) -> Any:
        self.values_calls += 1
        return super().values()

    def __deepcopy__(self, memo: dict[int, Any]) -> CountingDict:
        new = CountingDict()
        memo[id(self)] = new
        for key, value in dict.items(self):
            new[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
        new.values_calls = self.values_calls
        return new


class MissingDict(dict):
    """A names mapping whose ``__missing__`` answers names starting with 'z'."""

    def __missing__(self, key: str) -> Any:
        if key.startswith("z"):
            return f"missing:{key}"
        raise KeyError(key)


def _harmless() -> str:
    return "harmless"


FAKE_MODULE = types.ModuleType("fake_module")
FAKE_MODULE.pi = 3.0  # type: ignore[attr-defined]
FAKE_MODULE.sep = "/"  # type: ignore[attr-defined]
FAKE_MODULE.harmless = _harmless  # type: ignore[attr-defined]
FAKE_MODULE.nested = math  # type: ignore[attr-defined]

WRAPPED_MATH = simpleeval.ModuleWrapper(math)
WRAPPED_FAKE = simpleeval.ModuleWrapper(FAKE_MODULE, {"pi", "nested", "sep"})

# Objects every copy of the names shares (deepcopy cannot copy modules or wrappers).
_SHARED = (math, FAKE_MODULE, operator, simpleeval, WRAPPED_MATH, WRAPPED_FAKE)

# Forbidden by simpleeval, and harmless when called by mistake.
FORBIDDEN = (
    getattr,
    type,
    repr,
    isinstance,
    compile,
    operator.attrgetter,
    operator.itemgetter,
    operator.methodcaller,
)

BIG_INTS = (
    2**64,
    -(2**64),
    10**20,
    2**1100,
    10**5000,  # str() of it raises ValueError (int max str digits)
    10001,  # just above MAX_SHIFT
    4000001,  # just above MAX_POWER
    -4000001,
)

_NAN = float("nan")
_INF = float("inf")

_ident_keys = st.sampled_from(
    ["a", "b", "x", "keys", "get", "items", "_p", "format", "real", "upper", "log", "1"]
)

_small_ints = st.integers(-1000, 1000)
# (indexes: hypothesis reprs a sampled_from's elements, and 10**5000 has no repr)
_ints = st.one_of(
    _small_ints, st.booleans(), st.integers(0, len(BIG_INTS) - 1).map(BIG_INTS.__getitem__)
)
_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([_NAN, _INF, -_INF, -0.0, 0.5, 1e308, 5e-324, 2.5]),
)
_decimals = st.sampled_from(["1.5", "-0", "1e10", "NaN", "Infinity", "0.1", "sNaN"]).map(Decimal)
# fmt: off
_STRING_VALUES = (
    "", "%s", "%d", "%(a)s", "{}", "{0}", "abc", "é", "\\d", "a b c", "1", "1.5", "nan",
    "True", "__class__", "a\tb", "x" * 30,
)
# fmt: on
_strings = st.one_of(st.text(max_size=8), st.sampled_from(_STRING_VALUES))
_datetimes = st.sampled_from(
    [
        ("datetime", (2024, 2, 29, 13, 5, 7)),
        ("datetime_utc", (2021, 1, 2, 3, 4, 5)),
        ("date", (1999, 12, 31)),
        ("timedelta", (1, 5)),
        ("time", (23, 59)),
    ]
).map(
    lambda spec: {
        "datetime": lambda a: _dt.datetime(*a),
        "datetime_utc": lambda a: _dt.datetime(*a, tzinfo=_dt.timezone.utc),
        "date": lambda a: _dt.date(*a),
        "timedelta": lambda a: _dt.timedelta(*a),
        "time": lambda a: _dt.time(*a),
    }[spec[0]](spec[1])
)

_hashable_scalars = st.one_of(_small_ints, st.text(max_size=4), st.floats(allow_nan=False))
_scalars = st.one_of(
    _small_ints,
    _strings,
    _ints,
    _floats,
    st.none(),
    _decimals,
    st.binary(max_size=4),
    st.sampled_from([1 + 2j, complex(_NAN, 0), Ellipsis]),
    _datetimes,
)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.one_of(_ident_keys, _small_ints), children, max_size=4),
        st.sets(_hashable_scalars, max_size=3),
        st.frozensets(_hashable_scalars, max_size=3),
    )


_data = st.recursive(_scalars, _containers, max_leaves=6)

_user_objects = st.one_of(
    st.builds(Probe, st.sampled_from(["p", "q"])),
    st.builds(
        Record,
        a=_small_ints,
        name=_strings,
        items=st.lists(_small_ints, max_size=3),
        child=st.builds(Record, a=_small_ints, b=_scalars),
    ),
    st.builds(lambda v, f: Record(a=1, format=v, fn=f), _small_ints, st.sampled_from(FORBIDDEN)),
    st.builds(lambda: Record(mod=FAKE_MODULE, m=math, mods=[math], ok=1)),
    st.builds(
        lambda: Record(probe=Probe("inner"), call=Caller(), ucall=UnhashableCaller(), cls=dict)
    ),
    st.builds(Sized, st.sampled_from([0, 3, 100001, -1, 2**64, "3", 2.0])),
    st.builds(Weird, st.booleans()),
    st.builds(Dyn, st.sampled_from(["dyn", "other"])),
    st.builds(Indexed, st.sampled_from(["double", "index_error", "key_error"])),
    st.builds(Caller),
    st.builds(UnhashableCaller),
    st.builds(BadStr, st.sampled_from(["raise", "int", "ok"])),
)

_specials = st.one_of(
    st.sampled_from(FORBIDDEN),
    st.sampled_from([math, FAKE_MODULE, len, sorted, dict, _dt.date, _harmless]),
    st.sampled_from([WRAPPED_MATH, WRAPPED_FAKE]),
    st.builds(lambda f: [1, f], st.sampled_from([math, getattr, FAKE_MODULE])),
    st.builds(lambda f: {"k": f, "ok": 1}, st.sampled_from([math, type, FAKE_MODULE])),
    st.builds(lambda f: (1, (2, f)), st.sampled_from([math, repr])),
    st.builds(lambda f: {f}, st.sampled_from([getattr, type])),
)

_anything = st.one_of(_data, _user_objects, _specials)

# name -> what it usually holds (so that arithmetic and method calls often succeed)
_TYPED = {
    "a": st.one_of(_small_ints, _ints, _anything),
    "b": st.one_of(_small_ints, _floats, _anything),
    "s": st.one_of(_strings, _anything),
    "l": st.one_of(
        st.lists(_scalars, max_size=4),
        st.lists(_data, max_size=3),
        st.lists(_data, max_size=3).map(CountingList),
        _anything,
    ),
    "d": st.one_of(
        st.dictionaries(_ident_keys, _data, max_size=4),
        st.dictionaries(_ident_keys, _data, max_size=3).map(CountingDict),
        _anything,
    ),
    "o": st.one_of(_user_objects, _anything),
    "p": st.builds(Probe, st.just("p")),
}
_OPTIONAL = ("c", "t", "n", "x", "dt", "m", "_p", "fi", "len", "str", "rand", "é", "zz")
_ALSO_USED = ("ed",)  # the Editor, added by contexts()

NAMES = tuple(_TYPED) + _OPTIONAL
UNDEFINED = ("q", "undefined", "os", "getattr", "eval", "__import__", "__builtins__", "print")


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """The names: most of NAMES, typed by their name, some aliasing another name's
    object; now and then a dict subclass with ``__missing__`` or a defaultdict."""
    names: dict[str, Any] = {}
    for key, strategy in _TYPED.items():
        if draw(st.integers(0, 9)):
            names[key] = draw(strategy)
    for key in _OPTIONAL:
        if not draw(st.integers(0, 2)):
            continue
        if names and draw(st.integers(0, 4)) == 0:
            names[key] = names[draw(st.sampled_from(sorted(names)))]  # same object
        elif key == "n":
            names[key] = draw(_ints)
        elif key == "dt":
            names[key] = draw(_datetimes)
        else:
            names[key] = draw(_anything)
    kind = draw(st.sampled_from(["dict"] * 8 + ["missing", "defaultdict"]))
    if kind == "missing":
        names = MissingDict(names)
    elif kind == "defaultdict":
        out: defaultdict[str, Any] = defaultdict(int)
        out.update(names)
        names = out
    if draw(st.integers(0, 4)) == 0:
        names["ed"] = Editor(names)
    return names


# ---------------------------------------------------------------------------
# Expression text
# ---------------------------------------------------------------------------

FUNCTIONS_SEED = ("len", "min", "max", "abs", "sum")
FUNCTIONS_V47 = FUNCTIONS_SEED + ("round", "str", "int", "float", "bool", "any", "all")
UNREGISTERED = ("foo", "print", "getattr", "type", "eval", "list", "dict", "sorted", "range", "a")
EXTRA_FUNCTIONS = ("ident", "boom", "stop", "give_module", "give_forbidden", "kw", "caller")
FUNCTION_NAMES = ("rand", "randint") + FUNCTIONS_V47 + UNREGISTERED + EXTRA_FUNCTIONS

# fmt: off
_INT_LITERALS = (
    "0", "1", "2", "7", "255", "1_000", "0x1f", "0o17", "0b101", "00", "01", "4000000",
    "4000001", "5000000", "10000", "10001", "20000", "1" * 30, "0x" + "f" * 40,
)
_FLOAT_LITERALS = (
    "1.5", "0.1", ".5", "5.", "1e308", "1e309", "1e-400", "2.5e-3", "0.0", "1_0.5", "2j", "1.5j",
)
_STR_LITERALS = (
    "''", "'a'", "'abc'", '"x y"', "'%s'", "'%d'", "'%(a)s'", "'%5s'", "'{}'", "'{0}'",
    "'\\n'", "'\\d'", "r'\\d'", "'\\777'", "'\\x41'", "'\\u00e9'", "'\\N{BULLET}'",
    "'''t'''", "'a' 'b'", "u'u'", "b'ab'", "b'\\d'", "rb'\\d'", "b''", "'1'", "'1.5'",
    "'nan'", "'__class__'", "'é'", "'a\\\nb'",
)
# fmt: on
_int_literals = st.one_of(st.integers(0, 300).map(str), st.sampled_from(_INT_LITERALS))
_float_literals = st.sampled_from(_FLOAT_LITERALS)
# Mostly without backslashes: a source with one is left to simpleeval (it may warn).
_printable = st.characters(categories=["L", "N", "P", "S"], exclude_characters="\\")
_str_literals = st.one_of(
    st.text(st.one_of(_printable, st.just(" ")), max_size=5).map(repr),
    st.text(st.one_of(_printable, st.just(" ")), max_size=5).map(repr),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=5).map(repr),
    st.sampled_from(_STR_LITERALS),
)
_constants = st.sampled_from(["None", "True", "False", "...", "Ellipsis", "NotImplemented"])
_defined = st.sampled_from(tuple(_TYPED) * 3 + _OPTIONAL + _ALSO_USED)
_names = st.one_of(_defined, _defined, _defined, st.sampled_from(UNDEFINED + ("ﬁ", "ℌ")))

_atoms = st.one_of(
    _names,
    _int_literals,
    _names,
    _str_literals,
    _int_literals,
    _constants,
    _float_literals,
    st.sampled_from(FUNCTION_NAMES),
)
# Method/function arguments whose size must stay bounded (center, join, replace...).
_small_args = st.one_of(
    st.integers(-3, 12).map(str), st.sampled_from(NAMES), _str_literals, _constants
)

BINOPS = ("+", "-", "*", "/", "//", "%", "<<", ">>", "&", "|", "^", "@")
CMPOPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not")
# Exponents stay small or exceed MAX_POWER (a huge allowed power would take seconds).
# fmt: off
_EXPONENT_LITERALS = (
    "0.5", "2.5", "-0.5", "(-1)", "4000001", "5000000", "-4000001", "'a'", "None", "True",
    "1e400", "2j",
)
# fmt: on
_exponents = st.one_of(
    st.integers(-3, 70).map(str), st.sampled_from(_EXPONENT_LITERALS), st.sampled_from(NAMES)
)

# fmt: off
ATTRS = (
    # allowed, per type
    "real", "imag", "upper", "lower", "strip", "split", "join", "replace", "startswith",
    "count", "index", "find", "keys", "values", "items", "get", "pop", "append", "extend",
    "insert", "remove", "sort", "reverse", "copy", "clear", "update", "setdefault", "add",
    "discard", "union", "bit_length", "to_bytes", "conjugate", "as_integer_ratio",
    "is_integer", "hex", "year", "month", "days", "isoformat", "strftime", "weekday",
    "total_seconds", "encode", "decode", "denominator", "fromkeys", "maketrans", "title",
    "zfill", "center", "splitlines", "partition",
    # user objects, dict keys (index fallback), modules
    "a", "b", "x", "name", "child", "log", "tag", "probe", "call", "ucall", "cls", "fn", "mod",
    "m", "mods", "ok", "boom", "missing", "type_err", "n", "pi", "sep", "nested", "harmless",
    "sqrt", "floor",
    # refused by name
    "format", "format_map", "mro", "tb_frame", "gi_frame", "ag_frame", "cr_frame", "exec",
    "_x", "_p", "__class__", "__globals__", "__dict__", "__len__", "__init__", "func_globals",
    "func_code",
)
# Methods whose arguments may be any expression (the result size stays bounded).
_FREE_ARG_METHODS = (
    "bump", "put", "drop", "get", "append", "count", "index", "startswith", "endswith", "find",
    "pop", "remove", "add", "discard", "setdefault", "keys", "items", "values", "upper", "strip",
    "split", "bit_length", "conjugate", "isoformat", "weekday", "sqrt", "floor", "call",
    "ucall", "harmless", "a", "missing", "boom", "format", "mro", "_x", "__class__", "get",
)
# Methods called with small arguments only (they build strings sized by an argument).
_SMALL_ARG_METHODS = (
    "join", "replace", "center", "zfill", "ljust", "to_bytes", "extend", "insert", "update",
    "union", "sort", "strftime", "encode", "decode", "partition", "fromkeys", "cls",
    "maketrans", "copy", "clear", "reverse", "total_seconds",
)
_KEYWORDS = ("key", "reverse", "default", "start", "base", "ndigits", "x", "sep", "year", "k")
FSTRING_SPECS = (
    "", "", ":>5", ":<3", ":^7", ":.2f", ":x", ":,", ":05d", ":e", ":%Y-%m-%d", ":s", ":",
    ":!r", ":}{", ":{{}}", ":10", ":=+8", ":#x",
)
# Syntax simpleeval has no handler for (and some it has, in odd places).
_DISPLAYS = (
    "[{a}, {b}]", "({a}, {b})", "{{{a}: {b}}}", "{{{a}}}", "()", "[]", "{{}}",
    "[v for v in {a}]", "{{v: v for v in {a}}}", "(v for v in {a})", "lambda: {a}",
    "(c := {a})", "[*{a}]", "f(*{a})", "len(*{a})", "max(**{a})", "await {a}",
    "(yield {a})", "{a}[{a}, {b}]", "{a}[1:2, {b}]", "({a})({b})", "({a})[0]()",
)
# Around a generated expression: mostly nothing; statements, whitespace, broken syntax.
_STATEMENTS = ("{a}",) * 30 + (
    "x = {a}", "x += {a}", "{a}; {b}", "{a};", "{a}\n{b}", " {a} ", "\n{a}\n", "\t{a}",
    "{a}  # c", "{a} \\\n + {b}", "({a}\n+ {b})", "\x0c{a}", "\u3000{a}", "x = {a}; {b}",
    "l[0] = {a}", "x @= {a}", "{a} if {b}", "{a}.", "{a} {b}", "{a},", "{a}, {b}", "*{a}",
    "{a} = {b}",
)
# What a one-character edit inserts.
_EDITS = (
    "", "(", ")", "[", "]", ",", ":", ".", "=", "'", '"', "\\", "\n", "#", "@", "!", "$", "{",
    "}", "*", " ", "\t", "if", "1",
)
# fmt: on


def _paren(text: str, flag: bool) -> str:
    return f"({text})" if flag else text


def _receiver(text: str, flag: bool) -> str:
    # "7.real" is a syntax error ("invalid decimal literal"): SPECIAL has it once
    return _paren(text, flag or text[:1].isdigit() or text[:1] == ".")


_DECIMAL_END = re.compile(r"(^|[^\w.])\d+$")


def _join_kw(left: str, kw: str, right: str, tight: bool) -> str:
    # "1if x else 2", "1or 2": a number right before a keyword warns (SyntaxWarning)
    if tight and _DECIMAL_END.search(left):
        return f"{left}{kw} {right}"
    return f"{left} {kw} {right}"


@st.composite
def _call(draw: st.DrawFn, child: st.SearchStrategy) -> str:
    func = draw(st.sampled_from(FUNCTION_NAMES))
    args = draw(st.lists(child, max_size=3))
    extra = draw(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(_KEYWORDS), child).map(lambda kv: f"{kv[0]}={kv[1]}"),
                child.map(lambda c: f"*{c}"),
                child.map(lambda c: f"**{c}"),
            ),
            max_size=1,
        )
    )
    return f"{func}({', '.join(args + extra)})"


@st.composite
def _method_call(draw: st.DrawFn, child: st.SearchStrategy) -> str:
    receiver = draw(child)
    if draw(st.booleans()):
        method = draw(st.sampled_from(_FREE_ARG_METHODS))
        args = draw(st.lists(child, max_size=2))
    else:
        method = draw(st.sampled_from(_SMALL_ARG_METHODS))
        args = draw(st.lists(_small_args, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        keyword = draw(st.sampled_from(_KEYWORDS))
        args.append(f"{keyword}={draw(_small_args)}")
    return f"{_receiver(receiver, draw(st.booleans()))}.{method}({', '.join(args)})"


@st.composite
def _fstring(draw: st.DrawFn, child: st.SearchStrategy) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 2)) == 0:
            parts.append(draw(st.sampled_from(["a", " ", "{{", "}}", "x=", "%s", "\\n", "é"])))
            continue
        value = draw(child)
        if "\\" in value:  # not allowed in a replacement field before Python 3.12
            value = draw(_defined)
        debug = draw(st.sampled_from(["", "", "=", " = "]))
        conversion = draw(st.sampled_from(["", "", "!r", "!s", "!a"]))
        spec = draw(st.sampled_from(FSTRING_SPECS))
        if draw(st.integers(0, 5)) == 0:
            spec = ":{" + draw(_small_args) + "}"  # nested replacement field in the spec
        parts.append("{" + value + debug + conversion + spec + "}")
    body = "".join(parts)
    for quote in ('"', "'", '"""', "'''"):
        if quote not in body:
            break
    return f"f{quote}{body}{quote}"


def _extend(child: st.SearchStrategy) -> st.SearchStrategy:
    flag = st.booleans()
    return st.one_of(
        st.builds(
            lambda a, op, b, p: f"{_paren(a, p)} {op} {_paren(b, p)}",
            child,
            st.sampled_from(BINOPS),
            child,
            st.integers(0, 3).map(bool),
        ),
        st.builds(lambda a, e: f"({a}) ** {e}", child, _exponents),
        st.builds(
            lambda op, a, p: f"{op}{_paren(a, p)}",
            st.sampled_from(["-", "+", "~", "not "]),
            child,
            flag,
        ),
        st.builds(
            lambda a, rest: a + "".join(f" {op} {b}" for op, b in rest),
            child,
            st.lists(st.tuples(st.sampled_from(CMPOPS), child), min_size=1, max_size=3),
        ),
        st.builds(
            lambda a, op, b, t, p: _join_kw(_paren(a, p), op, _paren(b, p), t),
            child,
            st.sampled_from(["and", "or", "if 1 else", "in", "is", "not in"]),
            child,
            flag,
            flag,
        ),
        st.builds(
            lambda a, b, c, t: _join_kw(a, "if", _join_kw(b, "else", c, t), t),
            child,
            child,
            child,
            flag,
        ),
        _call(child),
        _method_call(child),
        st.builds(
            lambda a, attr, p: f"{_receiver(a, p)}.{attr}", child, st.sampled_from(ATTRS), flag
        ),
        st.builds(lambda a, k: f"({a})[{k}]", child, child),
        st.builds(
            lambda a, lo, hi, step: f"({a})[{lo}:{hi}{step}]",
            child,
            st.sampled_from(["", "0", "1", "-1", "a", "None", "True"]),
            st.sampled_from(["", "2", "-1", "n", "1.5"]),
            st.sampled_from(["", ":", ":-1", ":0", ":2", ", 1", ",", ":a"]),
        ),
        _fstring(child),
        st.builds(
            lambda tpl, a, b: tpl.format(a=a, b=b),
            st.sampled_from(_DISPLAYS),
            child,
            child,
        ),
    )


def _mutate(text: str, position: int, insert: str, delete: int) -> str:
    position %= len(text) + 1
    return text[:position] + insert + text[position + delete :]


# Fixed expressions for rules the random grammar reaches rarely.
# fmt: off
SPECIAL = (
    "2 ** 5000000", "2 ** 4000000 > 0", "(-2) ** 4000001", "4000001 ** 2", "1 << 20000",
    "1 << 10000 > 0", "(1 << 10000) << 1", "1 >> 10001", "'a' * 200000", "'a' * 100000",
    "'ab' * 50001", "[1] * 100001", "200000 * 'a'", "'ab' * 'cd'", "'ab' * [1]", "'a' ** 2",
    "len('a' * 100000 + 'b')", "'a' * 60000 + 'b' * 50000", "'a' * 50000 + 'b' * 50000",
    "f\"{'a' * 60000}{'b' * 60000}\"", "f\"{'a' * 100000}x\"", "f'{s:{\"}\"}}'",
    "str(10 ** 5000)", "f'{a}{b}{c}'", "a @ b", "().__class__", "''.__class__.__mro__",
    "x.__globals__", "''.format", "'{}'.format(1)", "str.format", "len.__self__",
    "getattr(s, '__class__')", "type(a)", "eval('1')", "__import__('os')", "int.mro()",
    "str.mro", "s.func_globals", "d.get.__self__", "o.fn", "o.mod", "o.m", "o.mods",
    "o.mod.pi", "o.cls()", "o.probe.bump(1)", "o.call()", "o.ucall", "rand() < 1",
    "randint(10)", "int", "str", "rand", "len", "p.bump(1) + p.bump(2) * p.bump(3)",
    "p.bump(1) or p.bump(2)", "p.bump(0) and p.bump(2)", "p.bump(1) < p.bump(2) < p.bump(0)",
    "ed.put('a', 5) + a", "ed.drop('a') and a", "(ed.put('q', 1), q)", "ed.drop('p') or p.bump(1)",
    "a + ed.put('a', 100) + a",
    "[p.bump(1), p.bump(2)]", "p.bump(p.bump(1), k=p.bump(2))", "p.bump() if p.bump() else 0",
    "l.append(1)", "l.append(l)", "d.update(a=1)", "d.clear()", "d.setdefault('z', [])",
    "d.pop('a')", "l.sort()", "l.sort(key=len)", "l.sort(reverse=True)", "d.keys", "d.x",
    "d.a", "d.get", "d.format", "d._p", "o.missing", "o.boom", "o.type_err", "o.a",
    "o.child.a", "o.name.upper()", "s.upper()", "dt.year", "dt.strftime('%Y')",
    "f'{dt:%Y-%m-%d}'", "dt.isoformat()", "b.hex()", "n.bit_length()", "zz", "ﬁ", "ℌ",
    "len(d)", "sum(l)", "min(l)", "max(l, key=len)", "abs(b)", "round(b, 1)",
    "int('12', base=3)", "str(b'x', 'ascii')", "bool(o)", "any(l)", "all(d)", "float('nan')",
    "float(s)", "int(s)", "1000 is 1000", "'abc' is 'abc'", "'a' is 'a'", "1.0 is 1.0",
    "a is a", "a is b", "None is None", "'' is ''", "() is ()", "x = 1", "x = y = a",
    "x += 1", "l[0] = 1", "x: int = 1", "a; b", "a;", "a\nb", "a; x = 1", "import os",
    "from os import path", "del a", "pass", "if a: b", "assert a", "raise a",
    "for v in l: pass", "def f(): pass", "class C: pass", "with a: pass", "return a",
    "lambda: 1", "lambda x: x", "(lambda: 1)()", "[v for v in l]", "{v: 1 for v in l}",
    "[a, b]", "(a, b)", "{a: b}", "{a}", "(y := 1)", "f(*l)", "*l", "a, b", "1if a else 2",
    "0x1for", "1or 2", "1and 0", "1in l", "1is 1", "1not in l", "'\\d'", "b'\\d'",
    "'\\777'", "f'\\d{a}'", "'\\N{NOPE}'", "", " ", "\n", "\t", "\x0c", "  a  ", "\na\n",
    "\xa0a", "a\r\n", "# comment", "a # comment", "\x00", "a\x00", "1 +", "(", ")", "1 2",
    "a b", "1if", "else", "'unterminated", "f'{'", "f'{}'", "f'{a!x}'", "def", "1 = 2",
    "a..b", "1.real", "1 .real", "(1).real", "$", "a ? b", "`a`", "\\", "é", "ﬁ + 1",
    "(((((((((a)))))))))", "a" + ".real" * 50, "-" * 100 + "1", "not " * 100 + "a",
    "+".join(["1"] * 100), "(" * 199 + "1" + ")" * 199, "(" * 201 + "1" + ")" * 201,
    "[" * 100 + "]" * 100, "-" * 10000 + "1", "+".join(["1"] * 6000),
    "'" + "a" * 100000 + "'", "'" + "a" * 100001 + "'", "b'" + "a" * 100001 + "'",
    "1" * 4300 + " > 0", "1" * 4301, "0x" + "f" * 5000 + " > 0",
)
# fmt: on


def expressions(max_leaves: int = 8) -> st.SearchStrategy[str]:
    """Expression source text: the random grammar, the fixed SPECIAL list, statements
    around an expression, whitespace and comments, and random one-character edits."""
    core = st.recursive(_atoms, _extend, max_leaves=max_leaves)
    statement = st.builds(
        lambda tpl, a, b: tpl.format(a=a, b=b),
        st.sampled_from(_STATEMENTS),
        core,
        core,
    )
    mutated = st.builds(
        _mutate,
        core,
        st.integers(0, 40),
        st.sampled_from(_EDITS),
        st.integers(0, 2),
    )
    return st.one_of(
        statement,
        statement,
        st.sampled_from(SPECIAL),
        statement,
        statement,
        statement,
        statement,
        mutated,
    )


# ---------------------------------------------------------------------------
# Function tables
# ---------------------------------------------------------------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("boom", args)


def _stop(*args: Any, **kwargs: Any) -> Any:
    raise StopIteration("stopped")


def _kw(*args: Any, **kwargs: Any) -> Any:
    return (args, sorted(kwargs.items()))


def tables() -> dict[str, dict[str, Any]]:
    """The function tables: pystator 0.0.25's guards ("seed"), pystator 0.0.47's
    ``_EXPR_BUILTINS`` ("v47"), and "extras" (v47 plus user functions: one raising,
    one raising StopIteration, one returning a module, one returning a forbidden
    function, a callable object, and a forbidden function itself)."""
    seed = dict(simpleeval.DEFAULT_FUNCTIONS)
    seed.update(len=len, min=min, max=max, abs=abs, sum=sum)
    v47 = dict(simpleeval.DEFAULT_FUNCTIONS)
    v47.update(
        len=len,
        min=min,
        max=max,
        abs=abs,
        sum=sum,
        round=round,
        str=str,
        int=int,
        float=float,
        bool=bool,
        any=any,
        all=all,
    )
    extras = dict(v47)
    extras.update(
        ident=lambda x=None: x,
        boom=_boom,
        stop=_stop,
        give_module=lambda: math,
        give_forbidden=lambda: getattr,
        kw=_kw,
        caller=Caller(),
        getattr=getattr,
    )
    return {"seed": seed, "v47": v47, "extras": extras}


# ---------------------------------------------------------------------------
# Observation
# ---------------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
_PRIMITIVES = (bool, int, float, complex, str, bytes, type(None), Decimal)
_SIMPLEEVAL_ATTRS = ("message", "name", "expression", "func_name", "attr")
_SYNTAX_ATTRS = ("msg", "filename", "lineno", "offset", "text", "end_lineno", "end_offset")


def clone(value: Any) -> Any:
    """A deep copy that shares modules (which cannot be copied)."""
    return copy.deepcopy(value, {id(m): m for m in _SHARED})


def short(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters; a cut text ends with a digest of the whole,
    so two shortened texts are equal only when the texts are."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{text[:limit]}... ({len(text)} chars, {digest})"


def _int_text(value: int) -> str:
    return str(value) if value.bit_length() < 1000 else f"int(0x{value:x})"


def _safe_repr(value: Any) -> str:
    try:
        return short(_ADDRESS.sub("0x?", repr(value)), 2000)
    except Exception as exc:  # e.g. a dict view holding an int too long for repr
        return f"<repr raised {type(exc).__name__}: {exc}>"


def _items(value: Any) -> list[Any]:
    """The items of a list, tuple or set, without calling a subclass's ``__iter__``."""
    if isinstance(value, list):
        return list(list.__iter__(value))
    if isinstance(value, tuple):
        return list(tuple.__iter__(value))
    return sorted(
        set.__iter__(value) if isinstance(value, set) else frozenset.__iter__(value), key=repr
    )


def _places(names: Any) -> tuple[dict[int, str], list[Any]]:
    """id -> path of every mutable object reachable from the names (the objects an
    expression can hand back or change), and the objects themselves: holding them
    keeps their ids from being reused while the expression runs."""
    found: dict[int, str] = {}
    alive: list[Any] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, _PRIMITIVES) or id(value) in found:
            return
        if isinstance(value, (list, dict, set)) or hasattr(value, "__dict__"):
            found[id(value)] = path
            alive.append(value)
        if isinstance(value, dict):
            for key, item in list(dict.items(value)):
                walk(item, f"{path}[{key!r}]")
        elif isinstance(value, (list, tuple, set, frozenset)):
            for index, item in enumerate(_items(value)):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, (Record, Probe)):
            for key, item in vars(value).items():
                walk(item, f"{path}.{key}")

    walk(names, "names")
    return found, alive


def describe(value: Any, places: dict[int, str] | None = None) -> str:
    """A canonical text of a value: type-sensitive, printable (no huge int repr, no
    addresses), sharing and cycles made explicit; an object of the names shows as its
    path there (``places``), so identity is compared too."""
    seen: dict[int, str] = {}

    def text(v: Any, path: str) -> str:
        if isinstance(v, str):
            # str(x) of an object of the names shows its address, which differs by copy
            return f"{type(v).__name__}:{_ADDRESS.sub('0x?', v)!r}"
        if isinstance(v, bool) or v is None or isinstance(v, (bytes, complex, Decimal)):
            return f"{type(v).__name__}:{v!r}"
        if isinstance(v, int):
            return f"{type(v).__name__}:{_int_text(v)}"
        if isinstance(v, float):
            return f"float:{v!r}"  # repr tells -0.0 from 0.0, and every nan prints 'nan'
        if places is not None and id(v) in places:
            return f"<names object {places[id(v)]}>"
        if id(v) in seen:
            return f"<same object as {seen[id(v)]}>"
        if (
            isinstance(v, (list, dict, set, tuple, frozenset, Record, Probe))
            or hasattr(v, "__dict__")
            and not isinstance(v, (type, types.ModuleType, types.FunctionType))
        ):
            seen[id(v)] = path
        kind = type(v).__name__
        if isinstance(v, (dict, list, tuple, set, frozenset)) and hasattr(v, "__dict__"):
            # a subclass's own attributes (CountingList's count...)
            kind += "(" + ", ".join(f"{k}={text(i, path)}" for k, i in vars(v).items()) + ")"
        if isinstance(v, dict):
            items = ", ".join(
                f"{text(k, path)}: {text(i, f'{path}[{k!r}]')}" for k, i in list(dict.items(v))
            )
            return f"{kind}{{{items}}}"
        if isinstance(v, (list, tuple)):
            return f"{kind}[{', '.join(text(i, f'{path}[{n}]') for n, i in enumerate(_items(v)))}]"
        if isinstance(v, (set, frozenset)):
            return f"{kind}{{{', '.join(sorted(text(i, path) for i in _items(v)))}}}"
        if isinstance(v, (types.BuiltinMethodType, types.MethodType)) and not isinstance(
            getattr(v, "__self__", None), (types.ModuleType, type(None))
        ):
            owner = text(v.__self__, f"{path}.__self__")
            return f"bound {v.__name__} of {owner}"
        if isinstance(v, (Record, Probe, Sized, Weird, Dyn, Indexed, BadStr)) or (
            type(v).__module__ == __name__ and hasattr(v, "__dict__")
        ):
            attrs = ", ".join(f"{k}={text(i, f'{path}.{k}')}" for k, i in vars(v).items())
            return f"{kind}({attrs})"
        if isinstance(v, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            return f"{kind}:{_safe_repr(v)}@{id(v)}"  # the same object on both sides
        return f"{kind}:{_safe_repr(v)}"

    return text(value, "value")


def _exception_head(exc: BaseException) -> str:
    kind = type(exc)
    try:
        message = str(exc)
    except Exception as error:  # e.g. KeyError(10**5000): its str is the key's repr
        message = f"<str raised {type(error).__name__}: {error}>"
    if kind is RecursionError and message.startswith("maximum recursion depth exceeded"):
        # The suffix (" while calling a Python object", " in comparison"...) names the C
        # call that happened to cross the limit: it depends on the stack, not the rules.
        message = "maximum recursion depth exceeded..."
    if not isinstance(exc, simpleeval.OperatorNotDefined):
        message = _ADDRESS.sub("0x?", message)
    return f"{kind.__module__}.{kind.__qualname__}@{id(kind)}: {short(message, 2000)}"


def _exception(exc: BaseException) -> str:
    parts = [_exception_head(exc)]
    if isinstance(exc, simpleeval.InvalidExpression):
        for attr in _SIMPLEEVAL_ATTRS:
            if hasattr(exc, attr):
                parts.append(f"{attr}={short(_safe_repr(getattr(exc, attr)), 2000)}")
    if isinstance(exc, SyntaxError):
        parts.extend(f"{attr}={getattr(exc, attr)!r}" for attr in _SYNTAX_ATTRS)
    # the chain a traceback prints ("During handling of the above exception...")
    if exc.__cause__ is not None:
        parts.append(f"cause=({_exception_head(exc.__cause__)})")
    if exc.__context__ is not None:
        parts.append(f"context=({_exception_head(exc.__context__)})")
    if exc.__suppress_context__:
        parts.append("suppress_context")
    return "; ".join(parts)


ROUNDS = ("always-eval", "always-eval", "error-eval", "always-bool")


def observe(
    evaluate: Callable[[str, Any, str], Any],
    expr: str,
    names: Any,
    rounds: tuple[str, ...] = ROUNDS,
) -> list[str]:
    """Run ``evaluate(expr, names_copy, kind)`` once per round on one private copy of
    the names. A round is "<warnings filter>-<kind>": filter "always" (warnings
    recorded) or "error" (warnings raised), kind "eval" (the value) or "bool" (its
    truth). Evaluating twice shows what a parse cache would lose (parse warnings are
    emitted on every evaluation). Returns one line per round (outcome and warnings) and
    the names afterwards."""
    names = clone(names)
    places, alive = _places(names)
    lines = []
    for mode in rounds:
        action, kind = mode.split("-")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter(action)
            random.seed(12345)  # rand() / randint() draw the same numbers on both sides
            try:
                outcome = "value " + describe(evaluate(expr, names, kind), places)
            except KeyboardInterrupt:  # pragma: no cover
                raise
            except BaseException as exc:  # a PanicException is a BaseException
                outcome = "raises " + _exception(exc)
        shown = [
            f"{w.category.__module__}.{w.category.__qualname__}: "
            f"{short(_ADDRESS.sub('0x?', str(w.message)), 2000)}"
            for w in caught
        ]
        lines.append(f"{mode}: {short(outcome, 5000)} | warnings {shown}")
    after = describe(names)
    if any("raises builtins.RecursionError" in line for line in lines):
        # how many times a container was iterated before the recursion limit stopped
        # the value check depends on the stack each evaluator starts from
        after = re.sub(r"iterations=int:\d+", "iterations=?", after)
    lines.append(f"names after: {short(after, 5000)}")
    del alive
    return lines
