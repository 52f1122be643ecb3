"""The restricted, time-limited environment that runs designer-written Python (scripts and expressions).

Script tasks, conditions and expressions are compiled with RestrictedPython (see :func:`_compile`), with
a policy that adds a few rules of ours to RestrictedPython's:

* refused at compile time (:class:`~engine.errors.ScriptRejected`): ``import``; every name and attribute
  starting with ``_`` (``__class__``, ``__subclasses__``, ``__globals__``, ``__builtins__``, ...), except
  that names starting with ``_sf_`` (the helpers the JUEL translation in :mod:`engine.expressions` calls)
  may be *read*; ``eval``/``exec`` calls; ``class`` definitions; ``try ... finally``; ``with``;
  ``nonlocal``; ``async``; ``except*``; syntax errors.
* not available at run time (a ``NameError`` naming the builtin): ``open``, ``__import__``, ``getattr``,
  ``setattr``, ``type``, ``globals``, ``locals``, ``vars``, ``dir``, ``compile``, ``input``, ``iter``,
  ``object``, ``super``, ``bytes``, ``BaseException``/``SystemExit``/``KeyboardInterrupt``, ... The names
  scripts do get are listed in :data:`SAFE_GLOBALS`.
* attribute access goes through RestrictedPython's ``safer_getattr`` (no ``_`` names, no ``str.format``,
  no frame/code attributes) and also refuses ``mro``; a missing attribute raises ``AttributeError``.
* a bare ``except:`` is compiled as ``except Exception:``.

The time limit is enforced with ``sys.settrace`` for the duration of a call, so it works in any thread
(no signals).  The tracer only traces frames of the script's own code (library code called by the
script is not slowed, and an existing tracer -- a debugger, coverage -- is called for those frames and
restored afterwards, always).  When the deadline has passed, the next line event in the script raises an
internal ``BaseException`` that the script cannot catch: CPython removes a tracer that raises, so the
rules above make sure no script code runs while that exception unwinds (no ``finally``, no ``with``, no
bare ``except``, no way to name ``BaseException``).  For the same reason the tracer limits the nesting
of the script's own calls to :data:`MAX_CALL_DEPTH`: Python's RecursionError would otherwise strike
inside the tracer, remove it, and be catchable by the script.  Every ``while`` body is given one extra
cheap instruction, because CPython 3.11 emits no line event for a loop that compiles to a lone jump (a
one-line ``while True: pass``).  Code without loops, comprehensions, ``def`` or ``lambda`` cannot run
long in Python bytecode and runs without the tracer, which makes the usual conditions and short scripts
cheap (a few microseconds per call).  A tracer costs about 0.3 us per traced line of a script.

What the time limit cannot stop is one long call into C, which a tracer cannot interrupt.  The obvious
ones are bounded: ``**``/``pow``, ``*`` and ``<<`` on integers (results over :data:`MAX_INT_BITS` bits
raise ``OverflowError``), repeating a str/list/tuple with ``*`` (over :data:`MAX_REPEAT` items), and
``range`` (over :data:`MAX_RANGE` items).  What remains: other C calls whose cost grows with their
arguments (``'x'.ljust(10**9)``, ``f'{x:>1000000000}'``, ``s.replace('a', s)`` repeated on one line,
``sorted``/``sum`` of very large data).  Concatenating with ``+``/``+=`` is bounded at :data:`MAX_CONCAT`
items, and a script with a loop is stopped once the process has grown by :data:`MAX_SCRIPT_MEMORY` while it
ran (``items.extend(items)`` in a loop).  A script without a loop is not checked for memory, and one call into
C can still allocate a lot at once (``'x'.ljust(10**9)``): run the engine with an OS memory limit if scripts
are untrusted.

Data flow: :meth:`ScriptSandbox.execute` runs a script with the task data as its global names and writes
back the top-level names it assigned (data values only: functions, modules, iterators are dropped) and
removes those it deleted; :meth:`ScriptSandbox.evaluate` evaluates an expression on a copy of the names
and refuses the mutating methods of list/dict/set, so it does not modify the data.  A script that fails
half-way leaves its in-place changes to mutable values (``items.append(...)``) but no new names.
"""

from __future__ import annotations

import ast
import builtins
import functools
import operator
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, MappingView
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import CodeType, ModuleType, TracebackType
from typing import Any, NamedTuple

from RestrictedPython import (
    PrintCollector,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    safe_builtins,
)
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)

from .errors import ScriptRejected

__all__ = [
    "ENGINE_NAME_PREFIX",
    "MAX_CALL_DEPTH",
    "MAX_CONCAT",
    "MAX_INT_BITS",
    "MAX_RANGE",
    "MAX_REPEAT",
    "MAX_SCRIPT_MEMORY",
    "SAFE_BUILTINS",
    "SAFE_GLOBALS",
    "SCRIPT_GLOBALS",
    "ScriptFailure",
    "ScriptSandbox",
    "guarded_getattr",
]

MAX_INT_BITS = 100_000
"""Largest integer (in bits, about 30,000 decimal digits) that ``*``, ``**``, ``pow`` and ``<<`` produce."""

MAX_REPEAT = 1_000_000
"""Largest str/list/tuple (in items) that repeating with ``*`` produces."""

MAX_RANGE = 1_000_000
"""Largest ``range`` a script may create."""

MAX_CONCAT = 50_000_000
"""Largest str/list/tuple/bytes (in items) that ``+`` or ``+=`` produces (``s = s + s`` in a loop)."""

MAX_SCRIPT_MEMORY = 512 * 1024 * 1024
"""Bytes the process may grow by while one script with a loop runs (checked every :data:`MEMORY_CHECK_LINES`
traced lines of the script, on Linux, from the process's resident size)."""

MEMORY_CHECK_LINES = 64

MAX_CALL_DEPTH = 200
"""Deepest nesting of a script's own function calls (its module level counts as one)."""

ENGINE_NAME_PREFIX = "_sf_"
"""Names with this prefix may be read (not assigned) by scripts: the helpers the JUEL translation calls.
Must equal :data:`engine.expressions.RESERVED_PREFIX` (not imported, so that module may import this one)."""

COMPILE_CACHE_SIZE = 4096
"""Compiled scripts and expressions kept, by source text."""


class ScriptFailure(Exception):
    """A script or expression failed while running (an exception in it, or its time limit).

    ``message`` is e.g. ``"ZeroDivisionError: division by zero"``; ``line`` the line within the script
    (None when unknown); ``original`` the exception the script raised.  ``str()`` is the message.
    """

    def __init__(self, message: str, *, line: int | None = None, original: BaseException | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.original = original


class _TimeLimitExceeded(BaseException):
    """Raised by the tracer; a BaseException that scripts have no means to name or catch."""


class _MemoryLimitExceeded(BaseException):
    """Raised by the tracer when the process has grown by more than MAX_SCRIPT_MEMORY during a script."""


def _resident_bytes() -> int:
    """The process's resident memory in bytes (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _CallDepthExceeded(BaseException):
    """Raised by the tracer before Python's own RecursionError could hit the tracer itself."""


# --------------------------------------------------------------------------------------------------
# Guards (the functions the RestrictedPython-compiled code calls)
# --------------------------------------------------------------------------------------------------

_SEQUENCE_TYPES = (str, list, tuple, bytes)


def _too_large(what: str) -> OverflowError:
    return OverflowError(f"{what} is too large for a script")


def _guarded_mul(a: Any, b: Any, op: Callable[[Any, Any], Any] = operator.mul) -> Any:
    """``a * b`` (or ``a *= b`` with ``op=operator.imul``), refusing huge integers and repetitions."""
    ta = type(a)
    tb = type(b)
    if ta is int and tb is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise _too_large(f"an integer of more than {MAX_INT_BITS} bits")
    elif ta in _SEQUENCE_TYPES or tb in _SEQUENCE_TYPES:
        seq, n = (a, b) if ta in _SEQUENCE_TYPES else (b, a)
        if isinstance(n, int) and n > 0 and len(seq) * n > MAX_REPEAT:
            raise _too_large(f"a {type(seq).__name__} of more than {MAX_REPEAT} items")
    return op(a, b)


def _guarded_add(a: Any, b: Any, op: Callable[[Any, Any], Any] = operator.add) -> Any:
    """``a + b`` (or ``a += b`` with ``op=operator.iadd``), refusing a concatenation of more than MAX_CONCAT."""
    if type(a) in _SEQUENCE_TYPES and type(b) in _SEQUENCE_TYPES and len(a) + len(b) > MAX_CONCAT:
        raise _too_large(f"a {type(a).__name__} of more than {MAX_CONCAT} items")
    return op(a, b)


def _guarded_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    """``base ** exp`` and the ``pow`` builtin, refusing results of more than MAX_INT_BITS bits."""
    if isinstance(base, int) and isinstance(exp, int):
        if mod is None:
            if exp > 0 and (abs(base).bit_length() - 1) * exp > MAX_INT_BITS:
                raise _too_large(f"an integer of more than {MAX_INT_BITS} bits")
        elif isinstance(mod, int) and (exp.bit_length() > 8192 or mod.bit_length() > 8192):
            raise _too_large("a modular power of more than 8192 bits")
    return pow(base, exp) if mod is None else pow(base, exp, mod)


def _guarded_lshift(a: Any, b: Any) -> Any:
    """``a << b``, refusing results of more than MAX_INT_BITS bits."""
    if isinstance(a, int) and isinstance(b, int) and a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _too_large(f"an integer of more than {MAX_INT_BITS} bits")
    return a << b


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": functools.partial(_guarded_add, op=operator.iadd),
    "-=": operator.isub,
    "*=": functools.partial(_guarded_mul, op=operator.imul),
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": _guarded_pow,
    "<<=": _guarded_lshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """``x += y`` and friends (RestrictedPython's ``_inplacevar_``)."""
    try:
        fn = _INPLACE_OPERATORS[op]
    except KeyError:
        raise SyntaxError(f"operator {op} is not supported") from None
    return fn(target, value)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``f(*args, **kwargs)`` (RestrictedPython's ``_apply_``)."""
    return func(*args, **kwargs)


_REFUSED_ATTRIBUTES = frozenset({"mro"})  # type.mro() would hand out BaseException and object


def guarded_getattr(obj: Any, name: str, default: Any = raise_) -> Any:
    """``obj.name`` in scripts: RestrictedPython's ``safer_getattr``, raising when missing, minus ``mro``.

    Helpers that scripts can call and that look attributes up by name must use this, not ``getattr``
    (``getattr(s, 'format')`` on a string walks attributes by a format string: ``'{0.__globals__}'``).
    """
    if name in _REFUSED_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not accessible in scripts')
    if isinstance(obj, ModuleType):  # a module the C code imported (`_strptime`) leads to `sys.modules`
        raise AttributeError(f'"{name}" of a module is not accessible in scripts')
    return safer_getattr(obj, name, default)


_MUTABLE_TYPES = (list, dict, set)
_MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",  # list
    "popitem", "update", "setdefault",  # dict
    "add", "discard", "intersection_update", "difference_update", "symmetric_difference_update",  # set
})


def _readonly_getattr(obj: Any, name: str, default: Any = raise_) -> Any:
    """``obj.name`` in expressions: as in scripts, and refusing the mutating methods of list/dict/set."""
    if name in _MUTATING_METHODS and (
        isinstance(obj, _MUTABLE_TYPES) or (isinstance(obj, type) and issubclass(obj, _MUTABLE_TYPES))
    ):
        raise AttributeError(f"'{name}' would modify the data: not allowed in an expression")
    return guarded_getattr(obj, name, default)


def _refuse_write(obj: Any) -> Any:
    raise TypeError("an expression cannot modify data")


_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


def _internal_import(name: str, *args: Any, **kwargs: Any) -> Any:
    """``__import__`` for the C code scripts call (``datetime.strftime`` imports ``time``, ``strptime``
    imports ``_strptime``); scripts themselves cannot import (refused at compile time)."""
    if name not in _INTERNAL_IMPORTS:
        raise ImportError(f"import of '{name}' is not allowed in scripts")
    return builtins.__import__(name, *args, **kwargs)


def _limited_range(*args: int) -> range:
    """``range`` of at most MAX_RANGE items."""
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise _too_large(f"a range of more than {MAX_RANGE} items")
    return r


# --------------------------------------------------------------------------------------------------
# What scripts see
# --------------------------------------------------------------------------------------------------

_REFUSED_SAFE_BUILTINS = {
    "__build_class__",  # class statements are refused
    "_getattr_",  # a guard, supplied as a global
    "setattr",
    "delattr",
    "BaseException",  # the time limit exception must not be catchable
    "GeneratorExit",
    "KeyboardInterrupt",
    "SystemExit",
}

SAFE_BUILTINS: dict[str, Any] = {
    name: value for name, value in safe_builtins.items() if name not in _REFUSED_SAFE_BUILTINS
}
SAFE_BUILTINS.update({
    "__import__": _internal_import,
    "pow": _guarded_pow,
    "range": _limited_range,
    **{
        name: getattr(builtins, name)
        for name in (
            "all", "any", "bin", "dict", "enumerate", "filter", "format", "frozenset", "list", "map",
            "max", "min", "next", "reversed", "set", "sorted", "sum", "tuple", "zip",
        )
    },
})
"""The builtins scripts get (RestrictedPython's ``safe_builtins`` without class creation, setattr,
delattr and the non-``Exception`` exceptions, plus the usual functional builtins; guarded ``pow`` and
``range``; an ``__import__`` that C code such as ``datetime.strftime`` uses, which allows only ``time``
and ``_strptime``).  ``print`` also works: its output is collected and discarded."""

SCRIPT_GLOBALS: dict[str, Any] = {
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
}
"""Names pre-supplied to every script and expression besides the builtins (task data overrides them)."""

SAFE_GLOBALS: tuple[str, ...] = tuple(
    sorted(name for name in {*SAFE_BUILTINS, *SCRIPT_GLOBALS, "print"} if not name.startswith("_"))
)
"""Every name a script can use without defining it (before ``extra_globals`` and the task data)."""

_SCRIPT_GUARDS: dict[str, Any] = {
    "_getattr_": guarded_getattr,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_apply_": _apply,
    "_print_": PrintCollector,
    "_pow_": _guarded_pow,
    "_mul_": _guarded_mul,
    "_add_": _guarded_add,
    "_lshift_": _guarded_lshift,
}
"""The functions RestrictedPython's compiled code calls.  They live in the ``__builtins__`` of a run (as do
the pre-supplied names), so the run's globals hold only the task data and what the script assigns."""

_EXPRESSION_GUARDS: dict[str, Any] = {
    **_SCRIPT_GUARDS,
    "_getattr_": _readonly_getattr,
    "_write_": _refuse_write,
}
_RESERVED = frozenset(_SCRIPT_GUARDS)

# --------------------------------------------------------------------------------------------------
# Compilation
# --------------------------------------------------------------------------------------------------

_BINOP_GUARDS: dict[type[ast.operator], str] = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_",
                                                 ast.Add: "_add_"}


def _located(new: ast.AST, old: ast.AST) -> Any:
    for child in ast.walk(new):
        ast.copy_location(child, old)
    return new


_IMPORT_REFUSAL = (
    "Import statements are not allowed in scripts (datetime, date and timedelta are available "
    "without import)."
)


class _ScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the rules in the module docstring."""

    def visit_Name(self, node: ast.Name) -> Any:
        if isinstance(node.ctx, ast.Load) and node.id.startswith(ENGINE_NAME_PREFIX):
            self.used_names[node.id] = True
            return node
        return super().visit_Name(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        ast.copy_location(call, node)
        ast.copy_location(call.func, node)
        return call

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, _IMPORT_REFUSAL)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, _IMPORT_REFUSAL)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "Class definitions are not allowed in scripts.")
        return node

    def visit_With(self, node: ast.With) -> Any:
        self.error(node, "With statements are not allowed in scripts.")
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(node.finalbody[0], "'finally' clauses are not allowed in scripts.")
        for handler in node.handlers:
            if handler.type is None:
                handler.type = _located(ast.Name("Exception", ast.Load()), handler)
        return self.node_contents_visit(node)

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        # Reading a guard name costs a few ns and gives the loop an instruction to jump back to, so
        # that the tracer sees a line event on every iteration (see the module docstring).
        tick = _located(ast.Expr(ast.Name("_getiter_", ast.Load())), node.body[0])
        node.body.insert(0, tick)
        return node


_LINE = re.compile(r"Line (\d+):")

# Code without these cannot run for long except inside one C call, which the tracer cannot stop anyway:
# it runs without the tracer (much cheaper for the usual conditions and short scripts).
_LOOPING_NODES = (
    ast.While, ast.For, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.FunctionDef,
    ast.Lambda,
)


class _Compiled(NamedTuple):
    code: CodeType | None
    errors: tuple[str, ...]
    loops: bool


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def _compile(source: str, name: str, mode: str) -> _Compiled:
    """Compile restricted; cached by (source, name, mode), refusals too."""
    text = textwrap.dedent(source) if mode == "exec" else source.strip()
    compile_restricted = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    try:
        try:
            tree = ast.parse(text, name, mode)
        except SyntaxError:  # let RestrictedPython word the error
            return _Compiled(None, tuple(compile_restricted(text, name, policy=_ScriptPolicy).errors), False)
        loops = any(isinstance(node, _LOOPING_NODES) for node in ast.walk(tree))
        result = compile_restricted(tree, name, policy=_ScriptPolicy)
    except (ValueError, RecursionError, MemoryError) as err:  # NUL bytes, absurd nesting
        return _Compiled(None, (f"{type(err).__name__}: {err}",), False)
    if result.errors:
        return _Compiled(None, tuple(result.errors), loops)
    return _Compiled(result.code, (), loops)


def _rejected(message: str, line: int | None) -> ScriptRejected:
    err = ScriptRejected(message)
    err.line = line  # type: ignore[attr-defined]
    return err


def _compiled_or_reject(source: str, name: str, mode: str) -> _Compiled:
    """The cached compilation, or ScriptRejected with the messages and (as ``.line``) the first line."""
    if not isinstance(source, str):
        raise _rejected(f"a script must be text, not {type(source).__name__}", None)
    compiled = _compile(source, name, mode)
    if compiled.code is None:
        errors = compiled.errors or ("the script cannot be compiled",)
        match = _LINE.match(errors[0])
        raise _rejected("; ".join(errors), int(match.group(1)) if match else None)
    return compiled


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------

_DATA_TYPES = frozenset({str, int, float, bool, type(None), list, dict, tuple, set, frozenset,
                         datetime, date, timedelta, Decimal})
_NOT_DATA = (ModuleType, Iterator, MappingView, range)


def is_data(value: Any) -> bool:
    """Whether a value a script assigned may go into the task data (no functions, modules, iterators)."""
    return type(value) in _DATA_TYPES or not (callable(value) or isinstance(value, _NOT_DATA))


def _script_line(tb: TracebackType | None, filename: str) -> int | None:
    """The line of the innermost traceback entry that is in the script."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    name = getattr(exc, "name", None)
    if isinstance(exc, NameError) and isinstance(name, str) and hasattr(builtins, name):
        text += f" ('{name}' is not available in scripts)"
    return text


class ScriptSandbox:
    """Compiles and runs designer-written Python under RestrictedPython with a time limit per call.

    One sandbox can be shared by all threads; compiled code is cached (by source text) across sandboxes.
    """

    def __init__(self, *, time_limit: float = 5.0, extra_globals: dict[str, Any] | None = None) -> None:
        """``time_limit``: seconds one execute/evaluate may run; ``extra_globals``: more names to supply."""
        self.time_limit = float(time_limit)
        presets = {**SCRIPT_GLOBALS, **(extra_globals or {})}
        self._extra_names = tuple(presets)
        self._script_builtins = {**SAFE_BUILTINS, **presets, **_SCRIPT_GUARDS}
        self._expression_builtins = {**SAFE_BUILTINS, **presets, **_EXPRESSION_GUARDS}

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a script can use without defining it, ``extra_globals`` included."""
        return tuple(sorted({*SAFE_GLOBALS, *self._extra_names}))

    def compile_script(self, source: str, *, name: str = "<script>") -> CodeType:
        """Compile a script (mode 'exec'); raises ScriptRejected with RestrictedPython's messages."""
        return _compiled_or_reject(source, name, "exec").code  # type: ignore[return-value]

    def compile_expression(self, source: str, *, name: str = "<expression>") -> CodeType:
        """Compile an expression (mode 'eval'); raises ScriptRejected with RestrictedPython's messages."""
        return _compiled_or_reject(source, name, "eval").code  # type: ignore[return-value]

    def execute(self, source: str, context: dict[str, Any]) -> None:
        """Run a script with ``context`` as its names; assigned data names are written back to it.

        Raises ScriptRejected (refused at compile time) or ScriptFailure (failed or timed out).
        """
        compiled = _compiled_or_reject(source, "<script>", "exec")
        names = {**context, "__builtins__": self._script_builtins}
        if not _RESERVED.isdisjoint(context):  # the guards must win
            for name in _RESERVED.intersection(context):
                del names[name]
        self._run(compiled, names)
        before = len(context)
        kept = 0
        for name, value in names.items():
            old = context.get(name, _MISSING)
            if old is not _MISSING:
                kept += 1
                if old is value:
                    continue
            elif name[0] == "_":  # __builtins__, the print collector, RestrictedPython's temporaries
                continue
            if is_data(value):
                context[name] = value
            elif old is not _MISSING:
                del context[name]
        if kept != before:  # the script deleted names
            for name in [n for n in context if n not in names and n not in _RESERVED]:
                del context[name]

    def evaluate(self, source: str, context: dict[str, Any]) -> object:
        """Evaluate an expression with ``context`` as its names; does not modify ``context``.

        Raises ScriptRejected (refused at compile time) or ScriptFailure (failed or timed out).
        """
        compiled = _compiled_or_reject(source, "<expression>", "eval")
        names = {**context, "__builtins__": self._expression_builtins}
        if not _RESERVED.isdisjoint(context):
            for name in _RESERVED.intersection(context):
                del names[name]
        return self._run(compiled, names)

    def _run(self, compiled: _Compiled, names: dict[str, Any]) -> Any:
        code: CodeType = compiled.code  # type: ignore[assignment]
        filename = code.co_filename
        if not compiled.loops:
            try:
                return eval(code, names)  # restricted code, restricted builtins
            except Exception as exc:
                raise ScriptFailure(
                    _describe(exc), line=_script_line(exc.__traceback__, filename), original=exc
                ) from exc

        monotonic = time.monotonic
        deadline = monotonic() + self.time_limit
        previous = sys.gettrace()
        depth = 0
        resident = _resident_bytes()
        memory_ceiling = resident + MAX_SCRIPT_MEMORY if resident else None
        lines = MEMORY_CHECK_LINES

        def trace_line(frame: Any, event: str, arg: Any) -> Any:
            nonlocal depth, lines
            if event == "line":
                if monotonic() > deadline:
                    raise _TimeLimitExceeded
                lines -= 1
                if not lines and memory_ceiling is not None:
                    lines = MEMORY_CHECK_LINES
                    if _resident_bytes() > memory_ceiling:
                        raise _MemoryLimitExceeded
            elif event == "return":
                depth -= 1
            return trace_line

        def trace_call(frame: Any, event: str, arg: Any) -> Any:
            nonlocal depth
            if frame.f_code.co_filename == filename:
                depth += 1
                if depth > MAX_CALL_DEPTH:
                    raise _CallDepthExceeded
                if monotonic() > deadline:
                    raise _TimeLimitExceeded
                return trace_line
            return previous(frame, event, arg) if previous is not None else None

        sys.settrace(trace_call)
        try:
            return eval(code, names)  # restricted code, restricted builtins
        except (_TimeLimitExceeded, _MemoryLimitExceeded, _CallDepthExceeded) as exc:
            limit = {
                _TimeLimitExceeded: f"script exceeded its time limit of {self.time_limit} s",
                _MemoryLimitExceeded: f"MemoryError: script grew the engine's memory by more than "
                                      f"{MAX_SCRIPT_MEMORY // 2**20} MB",
                _CallDepthExceeded: f"RecursionError: script calls nested more than {MAX_CALL_DEPTH} deep",
            }[type(exc)]
            raise ScriptFailure(limit, line=_script_line(exc.__traceback__, filename), original=exc) from None
        except Exception as exc:
            raise ScriptFailure(
                _describe(exc), line=_script_line(exc.__traceback__, filename), original=exc
            ) from exc
        finally:
            sys.settrace(previous)


_MISSING = object()
