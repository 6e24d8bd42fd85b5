"""Forbid / require rules checked on a student's source with :mod:`ast`.

The student's module is parsed (and compiled, to surface every syntax error) but never executed.

``ModuleSource.forbid`` reports every reference to a forbidden library name made by the checked
functions or by anything they reach: module-level helpers (functions, classes, lambdas), module
variables together with every statement that changes them, default arguments, decorators.
Names are resolved through imports (module level or inside functions), aliases, ``getattr`` with
a constant name, ``a if c else b``, arguments passed to the student's own functions, and
``global``/``nonlocal``. Code that would hide what is called is reported too: ``eval``, ``exec``,
``compile``, ``__import__``, ``importlib``, ``getattr`` with a computed name, ``globals()``,
``vars()``, ``locals()``, ``sys.modules``, frame/``__globals__``/``__dict__`` access, and a
module object (``torch``, ``F``...) passed around as a value. Top-level code that could rebind
the checked names at import time (``exec``, ``globals()[...] = ...``, ``sys.modules``...) is
reported against every checked function.

``ModuleSource.require`` checks that a function calls one of the module's own functions,
directly or through its helpers.

The analysis is flow-insensitive inside functions (a name holds every value it is ever given)
and follows the top-level statement order at module level (a later ``def`` or assignment
replaces an earlier one). Nothing recurses on unbounded chains: hostile sources end in a
SourceError or a violation, never a crash.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
import warnings
from collections import deque
from dataclasses import dataclass, field, replace
from fnmatch import translate
from functools import lru_cache
from itertools import repeat
from typing import Callable, Iterable, Sequence, Union

from grader.ast_lock import AST_LOCK, parse_python

__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_SOURCE_CHARS", "ModuleSource", "RuleViolation", "SourceError"]

MAX_SOURCE_CHARS = 1_000_000
MAX_NODES = 200_000
MAX_DEPTH = 500  # AST levels; honest code stays far below, the parser's own limit is near 1000

INF = sys.maxsize  # "position" of code inside function bodies: it runs after the module is built
_MAX_VALUES = 64  # values kept per name
_MAX_PARTS = 16  # components of a resolved dotted name

_BUILTIN_NAMES = frozenset(dir(builtins))
_FUNC_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.Match)

# Code that can run arbitrary code or reach any object by name (checked everywhere it runs).
_EXEC_LIKE = (
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__", "builtins.globals",
    "builtins.vars", "builtins.locals", "builtins.__dict__", "builtins.__loader__",
    "builtins.__spec__", "importlib", "sys.modules", "sys._getframe", "sys.__dict__", "inspect",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "pickle", "_pickle", "marshal", "runpy",
    "code", "codeop", "ctypes", "dill", "cloudpickle", "types.FunctionType", "types.CodeType",
)
_EXEC_LIKE_ATTRS = frozenset({
    "__globals__", "__builtins__", "__code__", "__closure__", "__subclasses__", "__loader__", "__import__",
    "f_globals", "f_locals", "f_builtins", "f_back", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
})
_EXEC_LIKE_NAMES = frozenset({"__builtins__"})
# Lookups by computed name (checked inside the checked functions and their helpers only).
_LOOKUP_LIKE = ("operator.attrgetter", "operator.methodcaller")
_LOOKUP_LIKE_ATTRS = frozenset({"__dict__", "__getattribute__", "__getattr__"})
# Module objects that must not travel as plain values (on top of the forbidden names' parents).
_DANGEROUS_ROOTS = frozenset({"builtins", "sys", "importlib", "inspect", "gc", "operator"})
_INSPECTORS = frozenset({"builtins.getattr", "builtins.hasattr"})
# eval() of a constant string is tolerated in top-level code when the string is plain arithmetic.
_SAFE_EVAL_CALLS = frozenset({"floor", "ceil", "int", "float", "abs", "min", "max", "round", "trunc", "sqrt", "pow", "divmod"})
# Other spellings of the same objects: (prefix, replacement).
_RESPELL = (
    ("torch._C._nn.", "torch.nn.functional."),
    ("torch._C._VariableFunctions.", "torch."),
    ("torch._VF.", "torch."),
    ("torch.ops.aten.", "torch."),
    ("torch.functional.", "torch."),
)

_REFERENCE_TYPES = frozenset({ast.Name, ast.Attribute, ast.Call})  # the only nodes that read a value
_SUSPECT_TYPES = _REFERENCE_TYPES | {ast.Import, ast.ImportFrom}  # the only nodes _check_node can report

_DYNAMIC_REASON = "dynamic code cannot be verified, so it is not allowed here"
_ESCAPE_REASON = "calls made through it cannot be verified, so this is not allowed here"

Value = Union[str, ast.AST]  # a dotted library name, or a def/lambda/class node of the student's module


# ---- public types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleViolation:
    function: str  # the student function the rule applies to, e.g. "conv2d"
    rule: str  # "forbid" or "require"
    name: str  # forbidden name used (canonical dotted) or required name missing
    line: int | None  # offending reference (forbid) or the function's def line (require)
    message: str  # human text naming the call and its line


class SourceError(Exception):
    """The source cannot be analysed: syntax error, NUL byte, too large or too deeply nested."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else ""
        if where and self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}" if where else self.message


# ---- scopes and bindings -----------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Scope:
    kind: str  # module | function | class | comprehension
    node: ast.AST
    parent: _Scope | None
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Binding:
    """One way a name gets a value."""

    name: str
    kind: str  # def | class | import | star | assign | param | other | builtin
    line: int
    scope: _Scope
    order: int = INF  # index of the top-level statement that binds it (module scope only)
    unconditional: bool = False  # a top-level statement of its own: replaces earlier bindings
    compound: bool = False  # bound inside a loop/if/try/with at top level
    expr: ast.expr | None = None  # value expression followed as an alias
    unit: ast.AST | None = None  # code computing the value, checked when the name is used
    sources: list[ast.expr] = field(default_factory=list)  # arguments at call sites (params)
    value: set[Value] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Ctx:
    scope: _Scope
    pos: int  # index of the enclosing top-level statement; INF inside function bodies
    direct: bool  # the node is itself a top-level statement
    compound: bool  # the enclosing top-level statement is a compound statement


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str  # forbid | dynamic | escape
    name: str
    line: int | None
    head: str  # who: "conv2d uses _helper (line 20), which"
    tail: str  # what: "calls torch.conv2d at line 31"


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


class _Index:
    """Scopes, bindings, parents and call sites of the live code of one module."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.module = _Scope("module", tree, None)
        self.scopes: list[_Scope] = [self.module]
        self.ctx: dict[int, _Ctx] = {}
        self.parent: dict[int, ast.AST] = {}
        self.children: dict[int, list[ast.AST]] = {}  # live children only
        self.own: dict[int, _Scope] = {}
        self.bindings: list[_Binding] = []
        self.stars: list[_Binding] = []
        self.params: dict[int, tuple[list[_Binding], dict[str, _Binding]]] = {}
        self.lambda_names: dict[int, str] = {}
        self.calls: list[ast.Call] = []
        self.names: list[ast.Name] = []
        self._build()
        self._relocate_declared()

    # -- traversal

    def _build(self) -> None:
        stack: list[tuple[ast.AST, _Ctx, ast.AST]] = []
        for i, stmt in reversed(list(enumerate(self.tree.body))):
            stack.append((stmt, _Ctx(self.module, i, True, isinstance(stmt, _COMPOUND)), self.tree))
        ctx_of, parent_of, children_of, own_of = self.ctx, self.parent, self.children, self.own
        names, no_children = self.names, []
        while stack:
            node, ctx, parent = stack.pop()
            key = id(node)
            ctx_of[key] = ctx
            parent_of[key] = parent
            if type(node) is ast.Name:  # the most common node: nothing below it, recorded as a name
                names.append(node)
                children_of[key] = no_children
                continue
            self._record(node, ctx)
            children = _live_children(node)
            children_of[key] = children
            if not children:
                continue
            inner = _Ctx(ctx.scope, ctx.pos, False, ctx.compound) if ctx.direct else ctx
            if key in own_of:
                stack.extend(self._child_entries(node, ctx, inner, children))
            else:  # the children run where `node` runs
                stack.extend(zip(reversed(children), repeat(inner), repeat(node)))

    def _child_entries(self, node: ast.AST, ctx: _Ctx, inner: _Ctx, children: list[ast.AST]
                       ) -> list[tuple[ast.AST, _Ctx, ast.AST]]:
        """Stack entries for the children of a node with its own scope, last first, each with its context."""
        own = self.own[id(node)]
        own_ctx = _Ctx(own, INF, False, False) if own.kind == "function" else _Ctx(own, ctx.pos, False, ctx.compound)
        if isinstance(node, _COMPREHENSIONS):
            return [(child, own_ctx, node) for child in reversed(children)]
        body = node.body if isinstance(node.body, list) else [node.body]  # a lambda's body is one expression
        in_body = {id(b) for b in body}
        return [(child, own_ctx if id(child) in in_body else inner, node) for child in reversed(children)]

    # -- bindings

    def _record(self, node: ast.AST, ctx: _Ctx) -> None:
        kind = type(node)  # never an ast.Name: _build records those itself
        if kind is ast.Call:
            self.calls.append(node)
            return
        handler = _RECORDERS.get(kind)
        if handler is not None:
            handler(self, node, ctx)
        scope_kind = _SCOPE_KINDS.get(kind)
        if scope_kind is not None:
            scope = _Scope(scope_kind, node, ctx.scope)
            self.scopes.append(scope)
            self.own[id(node)] = scope
            if kind in _FUNC_TYPES:
                self._bind_params(node, scope)

    def _bind(self, scope: _Scope, name: str, kind: str, node: ast.AST, ctx: _Ctx, *,
              expr: ast.expr | None = None, unit: ast.AST | None = None, value: Iterable[Value] = (),
              replaces: bool = True) -> _Binding:
        at_module = scope is self.module
        binding = _Binding(
            name=name, kind=kind, line=getattr(node, "lineno", 0) or 0, scope=scope,
            order=ctx.pos if at_module else INF, unconditional=at_module and ctx.direct and replaces,
            compound=ctx.compound, expr=expr, unit=unit, value=set(value),
        )
        scope.bindings.setdefault(name, []).append(binding)
        self.bindings.append(binding)
        return binding

    def _bind_targets(self, target: ast.AST, ctx: _Ctx, unit: ast.AST | None, scope: _Scope | None = None) -> None:
        """Every name stored by `target` gets a value we do not follow (checked through `unit`)."""
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self._bind(scope or ctx.scope, node.id, "other", node, ctx, unit=unit, replaces=False)

    def _bind_alias(self, name: str, value: ast.expr, node: ast.AST, ctx: _Ctx, scope: _Scope | None = None,
                    replaces: bool = True) -> None:
        if isinstance(value, ast.Lambda):
            self.lambda_names.setdefault(id(value), name)
        self._bind(scope or ctx.scope, name, "assign", node, ctx, expr=value, unit=value, replaces=replaces)

    def _record_Assign(self, node: ast.Assign, ctx: _Ctx) -> None:
        for target in node.targets:
            self._assign_target(target, node.value, node, ctx)

    def _assign_target(self, target: ast.expr, value: ast.expr, node: ast.AST, ctx: _Ctx) -> None:
        if isinstance(target, ast.Name):
            self._bind_alias(target.id, value, node, ctx)
            return
        pairs = isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
        if pairs and len(target.elts) == len(value.elts) and not any(
            isinstance(e, ast.Starred) for e in [*target.elts, *value.elts]
        ):
            for t, v in zip(target.elts, value.elts):
                self._assign_target(t, v, node, ctx)
            return
        self._bind_targets(target, ctx, value)

    def _record_AnnAssign(self, node: ast.AnnAssign, ctx: _Ctx) -> None:
        if node.value is not None:
            self._assign_target(node.target, node.value, node, ctx)

    def _record_AugAssign(self, node: ast.AugAssign, ctx: _Ctx) -> None:
        self._bind_targets(node.target, ctx, node.value)

    def _record_NamedExpr(self, node: ast.NamedExpr, ctx: _Ctx) -> None:
        scope = ctx.scope
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        if isinstance(node.target, ast.Name):
            self._bind_alias(node.target.id, node.value, node, ctx, scope=scope, replaces=False)

    def _record_For(self, node: ast.For | ast.AsyncFor, ctx: _Ctx) -> None:
        self._bind_targets(node.target, ctx, node.iter)

    _record_AsyncFor = _record_For

    def _record_comprehension(self, node: ast.comprehension, ctx: _Ctx) -> None:
        self._bind_targets(node.target, ctx, node.iter)

    def _record_withitem(self, node: ast.withitem, ctx: _Ctx) -> None:
        if node.optional_vars is not None:
            self._bind_targets(node.optional_vars, ctx, node.context_expr)

    def _record_ExceptHandler(self, node: ast.ExceptHandler, ctx: _Ctx) -> None:
        if node.name:
            self._bind(ctx.scope, node.name, "other", node, ctx, replaces=False)

    def _record_Match(self, node: ast.Match, ctx: _Ctx) -> None:
        for case in node.cases:
            for pattern in ast.walk(case.pattern):
                name = getattr(pattern, "name", None) or getattr(pattern, "rest", None)
                if isinstance(name, str):
                    self._bind(ctx.scope, name, "other", pattern, ctx, unit=node.subject, replaces=False)

    def _record_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> None:
        self._bind(ctx.scope, node.name, "def", node, ctx, unit=node, value={node})

    _record_AsyncFunctionDef = _record_FunctionDef

    def _record_ClassDef(self, node: ast.ClassDef, ctx: _Ctx) -> None:
        self._bind(ctx.scope, node.name, "class", node, ctx, unit=node, value={node})

    def _record_Import(self, node: ast.Import, ctx: _Ctx) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            dotted = alias.name if alias.asname else name
            self._bind(ctx.scope, name, "import", node, ctx, value={dotted})

    def _record_ImportFrom(self, node: ast.ImportFrom, ctx: _Ctx) -> None:
        for alias in node.names:
            if node.level or not node.module:
                self._bind(ctx.scope, alias.asname or alias.name, "other", node, ctx)
            elif alias.name == "*":
                star = _Binding("*", "star", node.lineno, self.module, order=ctx.pos, value={node.module})
                self.stars.append(star)
            else:
                self._bind(ctx.scope, alias.asname or alias.name, "import", node, ctx,
                           value={f"{node.module}.{alias.name}"})

    def _record_Global(self, node: ast.Global, ctx: _Ctx) -> None:
        ctx.scope.declared_global.update(node.names)

    def _record_Nonlocal(self, node: ast.Nonlocal, ctx: _Ctx) -> None:
        ctx.scope.declared_nonlocal.update(node.names)

    def _bind_params(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: _Scope) -> None:
        args = node.args
        inside = _Ctx(scope, INF, False, False)
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        by_position: list[_Binding] = []
        by_name: dict[str, _Binding] = {}
        for i, (arg, default) in enumerate(zip(positional, defaults)):
            binding = self._bind(scope, arg.arg, "param", arg, inside, expr=default)
            by_position.append(binding)
            if i >= len(args.posonlyargs):
                by_name[arg.arg] = binding
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            by_name[arg.arg] = self._bind(scope, arg.arg, "param", arg, inside, expr=default)
        for arg in (args.vararg, args.kwarg):
            if arg is not None:
                self._bind(scope, arg.arg, "other", arg, inside)
        self.params[id(node)] = (by_position, by_name)

    def _relocate_declared(self) -> None:
        """`global x` / `nonlocal x`: assignments in that function bind the outer name."""
        for scope in reversed(self.scopes[1:]):  # `global` at module level changes nothing
            for name in scope.declared_global & scope.bindings.keys():
                for binding in scope.bindings.pop(name):
                    binding.scope, binding.order, binding.unconditional = self.module, INF, False
                    self.module.bindings.setdefault(name, []).append(binding)
            for name in scope.declared_nonlocal & scope.bindings.keys():
                target = self._nonlocal_target(scope, name)
                moved = scope.bindings.pop(name)
                if target is not None:
                    for binding in moved:
                        binding.scope = target
                    target.bindings.setdefault(name, []).extend(moved)

    @staticmethod
    def _nonlocal_target(scope: _Scope, name: str) -> _Scope | None:
        cur = scope.parent
        while cur is not None and cur.kind != "module":
            if cur.kind != "class" and name in cur.bindings and name not in cur.declared_nonlocal:
                return cur
            cur = cur.parent
        return None


_RECORDERS: dict[type, Callable[[_Index, ast.AST, _Ctx], None]] = {
    getattr(ast, name[len("_record_"):]): handler
    for name, handler in vars(_Index).items() if name.startswith("_record_")
}
_SCOPE_KINDS: dict[type, str] = {
    ast.FunctionDef: "function", ast.AsyncFunctionDef: "function", ast.Lambda: "function", ast.ClassDef: "class",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.GeneratorExp: "comprehension",
    ast.DictComp: "comprehension",
}
# Fields that never hold a node the analysis looks at: identifiers, flags, and the shared singleton
# nodes of expression contexts and operators (ast.Load(), ast.Add()...), which carry nothing.
_INERT_FIELDS = frozenset({
    "ctx", "op", "ops", "id", "attr", "name", "arg", "asname", "module", "level", "is_async", "simple",
    "conversion", "kind", "type_comment", "tag",
})
_NODE_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}  # a constant holds no code
_SINGLETON_FIELDS: dict[type, tuple[str, ...]] = {
    kind: tuple(f for f in kind._fields if f in ("ctx", "op", "ops"))
    for kind in vars(ast).values() if isinstance(kind, type) and issubclass(kind, ast.AST)
    and any(f in ("ctx", "op", "ops") for f in kind._fields)
}


def _node_fields(kind: type) -> tuple[str, ...]:
    fields = _NODE_FIELDS.get(kind)
    if fields is None:
        fields = _NODE_FIELDS[kind] = tuple(f for f in kind._fields if f not in _INERT_FIELDS)
    return fields


def _live_children(node: ast.AST) -> list[ast.AST]:
    """Child nodes worth indexing (constants and context/operator singletons left out), in field order."""
    out: list[ast.AST] = []
    kind = type(node)
    fields = _NODE_FIELDS.get(kind) or _node_fields(kind)
    main_guard = kind is ast.If and _is_main_guard(node.test)
    for name in fields:
        if main_guard and name == "body":
            continue  # never runs when the module is imported
        value = getattr(node, name, None)
        if type(value) is list:
            for item in value:
                if isinstance(item, ast.AST) and type(item) is not ast.Constant:
                    out.append(item)
        elif isinstance(value, ast.AST) and type(value) is not ast.Constant:
            out.append(value)
    return out


# ---- names, values and the alias fixpoint --------------------------------------------------------


def _visible(binding: _Binding, pos: int) -> bool:
    if pos == INF or binding.order == INF:
        return True
    return binding.order < pos or (binding.order == pos and binding.compound)


def _is_chain(expr: ast.expr | None) -> bool:
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return isinstance(expr, ast.Name)


def _value_key(value: Value) -> tuple[int, str, int]:
    if isinstance(value, str):
        return (0, value, 0)
    return (1, getattr(value, "name", "<lambda>"), getattr(value, "lineno", 0))


def _extend(value: Value, attrs: list[str]) -> Value | None:
    if isinstance(value, str):
        if value.count(".") + len(attrs) >= _MAX_PARTS:
            return None
        return ".".join([value, *attrs])
    if isinstance(value, ast.ClassDef):
        return value  # an attribute of the student's class: the whole class is checked
    return None


class _Resolver:
    """Resolves names and expressions to values; solves aliases and parameters to a fixpoint."""

    def __init__(self, index: _Index) -> None:
        self.index = index
        self._lookup_memo: dict[tuple[int, str, int], tuple[_Binding, ...]] = {}
        self._synthetic: dict[tuple[str, str, int], _Binding] = {}
        self._dependents: dict[int, dict[int, _Binding]] = {}
        self._ref_memo: dict[int, frozenset[Value]] = {}
        self._name_memo: dict[int, tuple[_Binding, ...]] = {}
        self.tracked_calls: set[int] = set()
        self._solve(b for b in index.bindings if b.expr is not None)
        self._discover_calls()

    # -- lookup

    def lookup(self, scope: _Scope, name: str, pos: int) -> tuple[_Binding, ...]:
        key = (id(scope), name, pos)
        if key not in self._lookup_memo:
            self._lookup_memo[key] = self._lookup(scope, name, pos)
        return self._lookup_memo[key]

    def _lookup(self, scope: _Scope, name: str, pos: int) -> tuple[_Binding, ...]:
        if name in scope.declared_global:
            return self.module_bindings(name, INF)
        cur: _Scope | None = scope.parent if name in scope.declared_nonlocal else scope
        first = cur is scope
        while cur is not None and cur.kind != "module":
            if name in cur.declared_global:
                return self.module_bindings(name, INF)
            if (first or cur.kind != "class") and name in cur.bindings:
                return tuple(cur.bindings[name])
            first, cur = False, cur.parent
        return self.module_bindings(name, pos)

    def module_bindings(self, name: str, pos: int) -> tuple[_Binding, ...]:
        key = (id(self.index.module), name, -pos - 1)
        if key in self._lookup_memo:
            return self._lookup_memo[key]
        explicit = [b for b in self.index.module.bindings.get(name, ()) if _visible(b, pos)]
        cut = max((b.order for b in explicit if b.unconditional), default=None)
        if cut is not None:
            explicit = [b for b in explicit if b.order >= cut]
        stars = [self._star(s, name) for s in self.index.stars if _visible(s, pos) and (cut is None or s.order > cut)]
        fallback = [self._builtin(name)] if cut is None and name in _BUILTIN_NAMES else []
        result = tuple(explicit + stars + fallback)
        self._lookup_memo[key] = result
        return result

    def _star(self, star: _Binding, name: str) -> _Binding:
        key = ("star", name, id(star))
        if key not in self._synthetic:
            module = next(iter(star.value))
            self._synthetic[key] = _Binding(name, "star", star.line, self.index.module, order=star.order,
                                            compound=star.compound, value={f"{module}.{name}"})
        return self._synthetic[key]

    def _builtin(self, name: str) -> _Binding:
        key = ("builtin", name, 0)
        if key not in self._synthetic:
            self._synthetic[key] = _Binding(name, "builtin", 0, self.index.module, order=-1,
                                            value={f"builtins.{name}"})
        return self._synthetic[key]

    def lookup_name(self, node: ast.Name) -> tuple[_Binding, ...]:
        found = self._name_memo.get(id(node))
        if found is None:
            ctx = self.index.ctx.get(id(node))
            found = self._name_memo[id(node)] = self.lookup(ctx.scope, node.id, ctx.pos) if ctx is not None else ()
        return found

    # -- evaluation

    def _reader(self, dependent: _Binding | None) -> Callable[[ast.Name], set[Value]]:
        def read(node: ast.Name) -> set[Value]:
            values: set[Value] = set()
            for binding in self.lookup_name(node):
                if dependent is not None:
                    self._dependents.setdefault(id(binding), {})[id(dependent)] = dependent
                values |= binding.value
            return values
        return read

    def eval(self, node: ast.AST, read: Callable[[ast.Name], set[Value]]) -> set[Value]:
        """The values an expression may have: library names and the student's defs."""
        attrs: list[str] = []
        while True:
            if isinstance(node, ast.Attribute):
                attrs.append(node.attr)
                node = node.value
            elif isinstance(node, ast.Call) and (name := self.const_getattr(node, read)) is not None:
                attrs.append(name)
                node = node.args[0]
            else:
                break
        base = self._eval_base(node, read)
        if not attrs:
            return base
        attrs.reverse()
        return {r for v in base if (r := _extend(v, attrs)) is not None}

    def _eval_base(self, node: ast.AST, read: Callable[[ast.Name], set[Value]]) -> set[Value]:
        out: set[Value] = set()
        todo = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, ast.Name):
                out |= read(n)
            elif isinstance(n, ast.IfExp):
                todo += [n.body, n.orelse]
            elif isinstance(n, ast.BoolOp):
                todo += n.values
            elif isinstance(n, ast.NamedExpr):
                todo.append(n.value)
            elif isinstance(n, ast.Lambda):
                out.add(n)
            elif isinstance(n, ast.Subscript) and (elt := _literal_item(n)) is not None:
                todo.append(elt)
            elif isinstance(n, (ast.Attribute, ast.Call)) and n is not node:
                out |= self.eval(n, read)  # nested only inside brackets: depth bounded by the parser
        return out

    def const_getattr(self, call: ast.Call, read: Callable[[ast.Name], set[Value]] | None = None) -> str | None:
        """`getattr(obj, "name")` / `getattr(obj, "name", default)`: the constant name."""
        if call.keywords or len(call.args) not in (2, 3) or any(isinstance(a, ast.Starred) for a in call.args):
            return None
        name = call.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return None
        if "builtins.getattr" not in self.eval(call.func, read or self._reader(None)):
            return None
        return name.value

    def values(self, node: ast.AST) -> frozenset[Value]:
        """Final values of an expression (after the fixpoint), memoised."""
        key = id(node)
        if key not in self._ref_memo:
            self._ref_memo[key] = frozenset(self.eval(node, self._reader(None)))
        return self._ref_memo[key]

    # -- fixpoint

    def _solve(self, todo: Iterable[_Binding]) -> None:
        queue: deque[_Binding] = deque()
        queued: set[int] = set()

        def push(binding: _Binding) -> None:
            if id(binding) not in queued:
                queued.add(id(binding))
                queue.append(binding)

        for binding in todo:
            push(binding)
        while queue:
            binding = queue.popleft()
            queued.discard(id(binding))
            new = self._compute(binding) - binding.value
            room = _MAX_VALUES - len(binding.value)
            if not new or room <= 0:
                continue
            binding.value.update(sorted(new, key=_value_key)[:room])
            for dependent in self._dependents.get(id(binding), {}).values():
                push(dependent)

    def _compute(self, binding: _Binding) -> set[Value]:
        read = self._reader(binding)
        out: set[Value] = set()
        for expr in ([binding.expr] if binding.expr is not None else []) + binding.sources:
            out |= self.eval(expr, read)
        return out

    def _discover_calls(self) -> None:
        """Bind the arguments of calls to the student's functions to their parameters."""
        read = self._reader(None)
        touched: list[_Binding] = []
        for call in self.index.calls:
            if isinstance(call.func, (ast.Attribute, ast.Call)):
                continue  # `a.f(...)`, `getattr(a, "f")(...)`, `f()(...)`: never resolves to one of the student's functions
            callees = sorted(self.eval(call.func, read), key=_value_key)
            if not callees or not all(isinstance(c, _FUNC_TYPES) for c in callees):
                continue
            mappings = [self._map_args(call, c) for c in callees]
            if any(m is None for m in mappings):
                continue
            self.tracked_calls.add(id(call))
            for mapping in mappings:
                for binding, expr in mapping or ():
                    binding.sources.append(expr)
                    touched.append(binding)
        self._solve(touched)

    def _map_args(self, call: ast.Call, callee: ast.AST) -> list[tuple[_Binding, ast.expr]] | None:
        by_position, by_name = self.index.params[id(callee)]
        out = []
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred) or i >= len(by_position):
                return None
            out.append((by_position[i], arg))
        for keyword in call.keywords:
            if keyword.arg is None or keyword.arg not in by_name:
                return None
            out.append((by_name[keyword.arg], keyword.value))
        return out


def _literal_item(node: ast.Subscript) -> ast.expr | None:
    """`(a, b)[0]` -> a."""
    seq, index = node.value, node.slice
    if not isinstance(seq, (ast.Tuple, ast.List)) or any(isinstance(e, ast.Starred) for e in seq.elts):
        return None
    if isinstance(index, ast.Constant) and type(index.value) is int and -len(seq.elts) <= index.value < len(seq.elts):
        return seq.elts[index.value]
    return None


# ---- patterns ------------------------------------------------------------------------------------


def _spellings(dotted: str) -> list[str]:
    """`dotted` and other names of the same object (re-exports, private implementation modules)."""
    out = [dotted]
    for prefix, repl in _RESPELL:
        if (dotted + ".").startswith(prefix):
            out.append((repl + (dotted + ".")[len(prefix):]).rstrip("."))
    if dotted.startswith("torch.nn.modules."):
        rest = dotted[len("torch.nn.modules."):].split(".")
        out.append(".".join(["torch.nn", *rest]))
        if len(rest) > 1:
            out.append(".".join(["torch.nn", *rest[1:]]))
    parts = dotted.split(".")
    public = [p for p in parts[:-1] if not (p.startswith("_") and not p.startswith("__"))]
    if len(public) < len(parts) - 1:
        out.append(".".join([*public, parts[-1]]))
    last = parts[-1]
    if last.startswith("_") and not last.startswith("__") and last.lstrip("_"):
        out.append(".".join([*parts[:-1], last.lstrip("_")]))
    return list(dict.fromkeys(out))


class _Patterns:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(dict.fromkeys(n.strip() for n in names if n and n.strip()))
        self.ancestors = _ancestors(self.names)
        self._glob = _glob_matcher(self.names) if self.names else None
        self._memo: dict[str, str | None] = {}
        self._ancestor_memo: dict[str, bool] = {}

    def match(self, dotted: str) -> bool:
        if dotted not in self._memo:
            self._memo[dotted] = self._match(dotted)
        return self._memo[dotted] is not None

    def _match(self, dotted: str) -> str | None:
        for spelling in _spellings(dotted):
            parts = spelling.split(".")
            for k in range(1, len(parts) + 1):
                prefix = ".".join(parts[:k])
                if self._glob is not None and self._glob(prefix) is not None:
                    return prefix
        return None

    def is_ancestor(self, dotted: str) -> bool:
        if dotted not in self._ancestor_memo:
            self._ancestor_memo[dotted] = any(s in self.ancestors for s in _spellings(dotted))
        return self._ancestor_memo[dotted]


@lru_cache(maxsize=64)
def _ancestors(globs: tuple[str, ...]) -> frozenset[str]:
    """Module objects that must not travel as values: the parents of the forbidden names (cached per rule)."""
    out = set(_DANGEROUS_ROOTS)
    for pattern in globs:
        literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        parts = literal.split(".")
        out.update(".".join(parts[:k]) for k in range(1, len(parts)))
    return frozenset(out)


@lru_cache(maxsize=64)
def _glob_matcher(globs: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """One regex matching where fnmatchcase matches one of `globs` (cached per rule, not per source:
    fnmatch.translate names its groups uniquely, so re's own cache would never hit)."""
    return re.compile("|".join(translate(g) for g in globs)).match


_EXEC_LIKE_SET = frozenset(_EXEC_LIKE)
_LOOKUP_LIKE_SET = frozenset(_LOOKUP_LIKE)


def _exec_like(dotted: str, lookups: bool) -> str | None:
    """Short name of a dynamic-code entry point (`eval`, `sys.modules`...), else None."""
    parts = dotted.split(".")
    for k in range(1, len(parts) + 1):
        prefix = ".".join(parts[:k])  # `dotted` is an entry or lies under one
        if prefix in _EXEC_LIKE_SET or (lookups and prefix in _LOOKUP_LIKE_SET):
            return dotted[len("builtins."):] if dotted.startswith("builtins.") else dotted
    return None


# ---- the module ----------------------------------------------------------------------------------


class ModuleSource:
    """A parsed student module."""

    def __init__(self, source: str, filename: str, tree: ast.Module) -> None:
        self.source = source
        self.filename = filename
        self.tree = tree
        self._index = _Index(tree)
        self._resolver = _Resolver(self._index)
        self._mutations: dict[str, list[ast.AST]] | None = None
        self._import_time_hits: list[_Hit] | None = None
        self._lines: list[bytes] | None = None
        self._reached_cache: dict[str, list[tuple[ast.AST, str, frozenset[Value] | None]]] = {}
        self._ref_values: dict[int, frozenset[Value] | None] = {}
        self._may_hit_memo: dict[int, bool] = {}
        self._subtrees: dict[int, tuple[list[int], list[ast.AST]]] = {}
        self._binding_units_memo: dict[int, list[tuple[ast.AST, str]]] = {}
        self._suspects_cache: dict[str, list[tuple[ast.AST, str, frozenset[Value] | None]]] = {}
        self._defs_memo: dict[int, tuple[frozenset[Value], list[tuple[ast.AST, str]]]] = {}
        stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        self._own_names = {"__main__", "submission"} | ({stem} if stem.isidentifier() else set())

    # -- construction

    @classmethod
    def parse(cls, source: str, filename: str) -> ModuleSource:
        """Parse (never execute) `source`; SourceError for anything that cannot be analysed."""
        if not isinstance(source, (str, bytes, bytearray)):
            raise SourceError(f"the source must be text, not {type(source).__name__}")
        if isinstance(source, (bytes, bytearray)):
            try:
                source = bytes(source).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise SourceError(f"the file is not UTF-8 text (byte {exc.start})") from None
        if len(source) > MAX_SOURCE_CHARS:
            raise SourceError(f"the file has {len(source)} characters; the limit is {MAX_SOURCE_CHARS}")
        if "\0" in source:
            at = source.index("\0")
            raise SourceError("the file contains a NUL byte", source.count("\n", 0, at) + 1,
                              at - (source.rfind("\n", 0, at) + 1) + 1)
        tree = _parse(source, filename)
        try:
            return cls(source, filename, tree)
        except (RecursionError, MemoryError):
            raise SourceError("the code is too deeply nested or too large to analyse") from None

    def function_line(self, name: str) -> int | None:
        """The def line of a module-level function (or the line binding the name), else None."""
        bindings = [b for b in self._resolver.module_bindings(name, INF) if b.kind != "builtin"]
        if not bindings:
            return None
        defs = [b for b in bindings if b.kind in ("def", "class")]
        return (defs or bindings)[-1].line

    # -- rules

    def forbid(self, functions: Sequence[str], names: Sequence[str], reason: str = "") -> list[RuleViolation]:
        """Violations for every forbidden name (fnmatch globs on dotted names) the functions reach."""
        patterns = _Patterns(names)
        if not patterns.names:
            return []
        out: list[RuleViolation] = []
        for function in dict.fromkeys(functions):
            try:
                hits = self._forbid_hits(function, patterns)
            except (RecursionError, MemoryError):
                hits = [_Hit("dynamic", "<unverifiable>", None, function, "is too deeply nested to verify")]
            out += _violations(function, hits, reason)
        return out

    def require(self, functions: Sequence[str], names: Sequence[str], reason: str = "") -> list[RuleViolation]:
        """Violations for each function that never calls the module's own `names` (directly or via helpers)."""
        out: list[RuleViolation] = []
        for function in dict.fromkeys(functions):
            if not self._root_bindings(function):
                continue  # missing is reported elsewhere
            line = self.function_line(function)
            for name in dict.fromkeys(names):
                try:
                    found = self._calls(function, name)
                except (RecursionError, MemoryError):
                    found = False
                if not found:
                    out.append(self._require_violation(function, name, line, reason))
        return out

    # -- forbid

    def _reached(self, function: str) -> list[tuple[ast.AST, str, frozenset[Value] | None]]:
        """Every node `function` reaches that can matter (see _traverse; cached: forbid and require rules share it)."""
        if function not in self._reached_cache:
            starts, _ = self._roots(function)
            self._reached_cache[function] = self._traverse(starts)
        return self._reached_cache[function]

    def _forbid_hits(self, function: str, patterns: _Patterns) -> list[_Hit]:
        hits: list[_Hit] = []
        _, imports = self._roots(function)
        for binding in imports:
            hits += self._check_import_binding(function, binding, patterns)
        for node, head, values in self._suspects(function):
            hits += self._check_node(node, head, values, patterns)
        hits += [replace(h, head=f"{function}: {h.head}") for h in self._import_time()]
        return hits

    def _suspects(self, function: str) -> list[tuple[ast.AST, str, frozenset[Value] | None]]:
        """The nodes `function` reaches where _check_node may report something, whatever the patterns."""
        if function not in self._suspects_cache:
            self._suspects_cache[function] = [
                entry for entry in self._reached(function) if type(entry[0]) in _SUSPECT_TYPES and self._may_hit(*entry)
            ]
        return self._suspects_cache[function]

    def _may_hit(self, node: ast.AST, _head: str, values: frozenset[Value] | None) -> bool:
        """Whether _check_node may report something at `node` (`values` are the node's own: memoised)."""
        if id(node) not in self._may_hit_memo:
            self._may_hit_memo[id(node)] = self._compute_may_hit(node, values)
        return self._may_hit_memo[id(node)]

    def _compute_may_hit(self, node: ast.AST, values: frozenset[Value] | None) -> bool:
        if values and any(isinstance(v, str) for v in values):
            return True
        if isinstance(node, ast.Call):
            return "builtins.getattr" in self._resolver.values(node.func)
        if isinstance(node, ast.Attribute):
            return node.attr in _EXEC_LIKE_ATTRS or node.attr in _LOOKUP_LIKE_ATTRS
        if isinstance(node, ast.Name):
            return node.id in _EXEC_LIKE_NAMES
        return isinstance(node, (ast.Import, ast.ImportFrom))

    def _check_import_binding(self, function: str, binding: _Binding, patterns: _Patterns) -> list[_Hit]:
        how = "is {} (imported at line {})" if binding.kind == "import" else "may be {} (from the star import at line {})"
        return [
            _Hit("forbid", v, binding.line, function, how.format(v, binding.line))
            for v in sorted(x for x in binding.value if isinstance(x, str)) if patterns.match(v)
        ]

    def _check_node(self, node: ast.AST, head: str, values: frozenset[Value] | None,
                    patterns: _Patterns | None) -> list[_Hit]:
        """Hits at one node; `patterns` None means top-level code (only exec-like code matters)."""
        hits: list[_Hit] = []
        line = getattr(node, "lineno", None)
        lookups = patterns is not None
        for value in sorted(v for v in values or () if isinstance(v, str)):
            hit = self._check_value(node, value, patterns)
            if hit is not None:
                hits.append(_Hit(hit[0], hit[1], line, head, hit[2]))
        if lookups and isinstance(node, ast.Call) and self._computed_getattr(node):
            hits.append(_Hit("dynamic", "getattr", line, head,
                             f"calls getattr with a computed attribute name at line {line}: {_DYNAMIC_REASON}"))
        attr = node.attr if isinstance(node, ast.Attribute) else None
        if attr in _EXEC_LIKE_ATTRS or (lookups and attr in _LOOKUP_LIKE_ATTRS):
            hits.append(_Hit("dynamic", attr, line, head, f"uses {attr}{self._as(node, attr)} at line {line}: {_DYNAMIC_REASON}"))
        if isinstance(node, ast.Name) and node.id in _EXEC_LIKE_NAMES:
            hits.append(_Hit("dynamic", node.id, line, head, f"uses {node.id} at line {line}: {_DYNAMIC_REASON}"))
        hits += self._check_self_import(node, head)
        return hits

    def _check_value(self, node: ast.AST, value: str, patterns: _Patterns | None) -> tuple[str, str, str] | None:
        line = getattr(node, "lineno", None)
        verb = "calls" if self._is_called(node) else "uses"
        if patterns is not None and patterns.match(value):
            return "forbid", value, f"{verb} {value}{self._as(node, value)} at line {line}"
        short = _exec_like(value, lookups=patterns is not None)
        if short is not None and not (patterns is None and short == "eval" and self._inert_eval(node)):
            return "dynamic", short, f"{verb} {short}{self._as(node, short)} at line {line}: {_DYNAMIC_REASON}"
        if patterns is not None and value == "builtins.getattr" and not self._is_called(node):
            return "dynamic", "getattr", f"uses getattr as a value at line {line}: {_DYNAMIC_REASON}"
        if patterns is not None and patterns.is_ancestor(value) and not self._tracked(node):
            return "escape", value, (f"passes the module {value}{self._as(node, value)} around as a value "
                                     f"at line {line}: {_ESCAPE_REASON}")
        return None

    def _check_self_import(self, node: ast.AST, head: str) -> list[_Hit]:
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules = [node.module]
        else:
            return []
        return [
            _Hit("dynamic", m, node.lineno, head, f"imports the module itself ({m}) at line {node.lineno}: {_DYNAMIC_REASON}")
            for m in modules if m.split(".")[0] in self._own_names
        ]

    def _computed_getattr(self, call: ast.Call) -> bool:
        if "builtins.getattr" not in self._resolver.values(call.func):
            return False
        return self._resolver.const_getattr(call) is None

    def _inert_eval(self, node: ast.AST) -> bool:
        """eval(<constant plain-arithmetic string>) in top-level code cannot rebind anything."""
        call = self._index.parent.get(id(node))
        if not (isinstance(call, ast.Call) and call.func is node and call.args):
            return False
        texts = self._constant_strings(call.args[0])
        return bool(texts) and all(_is_plain_arithmetic(t) for t in texts)

    def _constant_strings(self, expr: ast.expr) -> list[str]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [expr.value]
        if not isinstance(expr, ast.Name):
            return []
        bindings = self._resolver.lookup_name(expr)
        texts = [b.expr.value for b in bindings if isinstance(b.expr, ast.Constant) and isinstance(b.expr.value, str)]
        return texts if bindings and len(texts) == len(bindings) else []

    # -- escapes

    def _tracked(self, node: ast.AST) -> bool:
        """A module object used as a value only where the analysis follows it."""
        parent = self._index.parent.get(id(node))
        while isinstance(parent, (ast.IfExp, ast.BoolOp)) and getattr(parent, "test", None) is not node:
            node, parent = parent, self._index.parent.get(id(parent))
        if isinstance(parent, ast.keyword):
            node, parent = parent, self._index.parent.get(id(parent))
            return isinstance(parent, ast.Call) and id(parent) in self._resolver.tracked_calls
        if isinstance(parent, ast.Call):
            if parent.args and parent.args[0] is node and self._resolver.values(parent.func) & _INSPECTORS:
                return True  # getattr(F, ...) is checked on its own; hasattr(F, ...) reveals nothing
            return node is not parent.func and id(parent) in self._resolver.tracked_calls
        if isinstance(parent, (ast.Tuple, ast.List)):
            return self._unpacked(parent)
        if isinstance(parent, ast.Assign):
            return all(isinstance(t, ast.Name) for t in parent.targets)
        if isinstance(parent, (ast.AnnAssign, ast.NamedExpr)):
            return isinstance(parent.target, ast.Name)
        return isinstance(parent, (ast.arguments, ast.Compare, ast.Expr))

    def _unpacked(self, seq: ast.Tuple | ast.List) -> bool:
        parent = self._index.parent.get(id(seq))
        if not (isinstance(parent, ast.Assign) and parent.value is seq):
            return False
        return all(isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == len(seq.elts)
                   and all(isinstance(e, ast.Name) for e in t.elts) for t in parent.targets)

    # -- require

    def _calls(self, function: str, name: str) -> bool:
        targets = {v for b in self._root_bindings(name) for v in b.value}
        if any(b.value & targets for b in self._root_bindings(function)):
            return True  # function = name (an alias)
        for node, _head, values in self._reached(function):
            if isinstance(node, ast.Call) and (self._resolver.values(node.func) & targets or self._is_module_name(node.func, name)):
                return True
            if values and values & targets and self._is_argument(node):
                return True  # functools.partial(lp_pool2d, ...), map(lp_pool2d, ...)
        return False

    def _is_module_name(self, node: ast.AST, name: str) -> bool:
        if not (isinstance(node, ast.Name) and node.id == name):
            return False
        return any(b.scope is self._index.module and b.kind != "builtin" for b in self._resolver.lookup_name(node))

    def _is_argument(self, node: ast.AST) -> bool:
        parent = self._index.parent.get(id(node))
        if isinstance(parent, (ast.keyword, ast.Starred)):
            parent = self._index.parent.get(id(parent))
        return isinstance(parent, ast.Call) and parent.func is not node

    def _require_violation(self, function: str, name: str, line: int | None, reason: str) -> RuleViolation:
        where = f" (line {line})" if line else ""
        missing = "" if self._root_bindings(name) else f" (your module defines no {name})"
        why = reason or f"it must call your own {name}, directly or through its helpers"
        message = f"{function}{where} never calls {name}{missing}: {why}"
        return RuleViolation(function, "require", name, line, message)

    # -- roots, units and the traversal

    def _root_bindings(self, name: str) -> list[_Binding]:
        return [b for b in self._resolver.module_bindings(name, INF) if b.kind != "builtin"]

    def _roots(self, function: str) -> tuple[list[tuple[ast.AST, str, bool]], list[_Binding]]:
        """Units to check for `function`, and import bindings that are the function itself."""
        bindings = self._root_bindings(function)
        units: list[tuple[ast.AST, str, bool]] = []
        imports = [b for b in bindings if b.kind in ("import", "star")]
        for b in bindings:
            if b.kind in ("def", "class"):
                units.append((b.unit, function, False))
            elif b.unit is not None and b.kind not in ("import", "star"):
                units.append((b.unit, f"{function} (assigned at line {b.line})", False))
        if bindings:
            units += [(m, f"{function} (changed at line {m.lineno})", False) for m in self._mutations_of(function)]
        else:
            units += [(b.unit, f"{function} (provided by the module's __getattr__ at line {b.line})", False)
                      for b in self._root_bindings("__getattr__") if b.kind == "def"]
        return units, imports

    def _traverse(self, starts: list[tuple[ast.AST, str, bool]], calls_only: bool = False
                  ) -> list[tuple[ast.AST, str, frozenset[Value] | None]]:
        """Every node of every unit reachable from `starts`, breadth first, with who reached it.

        Only nodes of _SUSPECT_TYPES are listed: no other node resolves to a value or can be reported.

        A unit with `skip_bodies` set is walked without the bodies of functions and lambdas."""
        queue = deque(starts)
        queued = {id(unit) for unit, _, skip in starts if not skip}
        seen: set[int] = set()
        expanded: set[int] = set()  # bindings whose units are already queued
        out: list[tuple[ast.AST, str, frozenset[Value] | None]] = []
        while queue:
            unit, head, skip_bodies = queue.popleft()
            if id(unit) in seen:
                continue
            for node in self._unit_nodes(unit, skip_bodies, seen):
                if type(node) not in _REFERENCE_TYPES:
                    out.append((node, head, None))
                    continue  # an import: it leads nowhere
                values = self._reference_values(node)
                out.append((node, head, values))
                for nxt, label in self._next_units(node, values, calls_only, expanded):
                    if id(nxt) not in seen and id(nxt) not in queued:
                        queued.add(id(nxt))
                        queue.append((nxt, f"{head} uses {label}, which", False))
        return out

    def _unit_nodes(self, unit: ast.AST, skip_bodies: bool, seen: set[int]) -> list[ast.AST]:
        """The unit's nodes not in `seen` yet, depth first, that can matter (_SUSPECT_TYPES: the rest
        never resolves, leads anywhere or is reported); every node walked is added to `seen`, bar
        function nodes whose bodies are skipped."""
        if id(unit) not in self._index.children:
            return []  # dead code (`if __name__ == "__main__":`) or a constant
        if not skip_bodies:
            keys, suspects = self._subtree(unit)
            if seen.isdisjoint(keys):  # the common case: the walk below would visit the whole subtree
                seen.update(keys)
                return suspects
        return self._walk_unit(unit, skip_bodies, seen)

    def _subtree(self, unit: ast.AST) -> tuple[list[int], list[ast.AST]]:
        """Ids of all the nodes under `unit` and its _SUSPECT_TYPES nodes, depth first (memoised)."""
        found = self._subtrees.get(id(unit))
        if found is None:
            found = self._subtrees[id(unit)] = ([], [])
            keys, suspects = found
            children_of = self._index.children
            stack = [unit]
            while stack:
                node = stack.pop()
                keys.append(id(node))
                if type(node) in _SUSPECT_TYPES:
                    suspects.append(node)
                stack.extend(reversed(children_of[id(node)]))
        return found

    def _walk_unit(self, unit: ast.AST, skip_bodies: bool, seen: set[int]) -> list[ast.AST]:
        children_of = self._index.children
        out: list[ast.AST] = []
        stack = [unit]
        while stack:
            node = stack.pop()
            key = id(node)
            if key in seen:
                continue
            children = children_of[key]
            if skip_bodies and isinstance(node, _FUNC_TYPES):
                body = node.body if isinstance(node.body, list) else [node.body]
                skipped = {id(b) for b in body}
                children = [c for c in children if id(c) not in skipped]
            else:
                seen.add(key)
            if type(node) in _SUSPECT_TYPES:
                out.append(node)
            stack.extend(reversed(children))
        return out

    def _reference_values(self, node: ast.AST) -> frozenset[Value] | None:
        """The values `node` reads if it is a reference (see _is_reference), else None; memoised."""
        key = id(node)
        if key in self._ref_values:
            return self._ref_values[key]
        if type(node) not in _REFERENCE_TYPES:
            values = None
        else:
            values = self._resolver.values(node) if self._is_reference(node) else None
        self._ref_values[key] = values
        return values

    def _next_units(self, node: ast.AST, values: frozenset[Value] | None, calls_only: bool,
                    expanded: set[int]) -> list[tuple[ast.AST, str]]:
        kind = type(node)
        if calls_only:
            if kind is not ast.Call:
                return []
            return self._labelled_defs(self._resolver.values(node.func))
        out = self._labelled_defs(values) if values else []
        if kind is ast.Name and isinstance(node.ctx, ast.Load):
            for binding in self._resolver.lookup_name(node):
                if id(binding) not in expanded:
                    expanded.add(id(binding))
                    out = [*out, *self._binding_units(binding)]
        return out

    def _labelled_defs(self, values: frozenset[Value]) -> list[tuple[ast.AST, str]]:
        """The student's defs among `values`, sorted, with their labels (memoised: do not mutate).

        `values` comes from the resolver's memo (or this one), which holds it: keying by id is safe."""
        memo = self._defs_memo.get(id(values))
        if memo is None:  # the memo keeps `values` alive, so its id stays its own
            memo = self._defs_memo[id(values)] = (values, [(d, self._label(d)) for d in self._defs(values)])
        return memo[1]

    def _binding_units(self, b: _Binding) -> list[tuple[ast.AST, str]]:
        """The code computing (and changing) a variable the checked code reads (memoised)."""
        if id(b) not in self._binding_units_memo:
            self._binding_units_memo[id(b)] = self._compute_binding_units(b)
        return self._binding_units_memo[id(b)]

    def _compute_binding_units(self, b: _Binding) -> list[tuple[ast.AST, str]]:
        out: list[tuple[ast.AST, str]] = []
        if b.unit is not None and b.kind in ("assign", "other") and not _is_chain(b.expr):
            out.append((b.unit, f"{b.name} (line {b.line})"))
        if b.scope is self._index.module and b.kind in ("def", "class", "assign", "other"):
            out += [(m, f"{b.name} (changed at line {m.lineno})") for m in self._mutations_of(b.name)]
        return out

    @staticmethod
    def _defs(values: Iterable[Value]) -> list[ast.AST]:
        return sorted((v for v in values if isinstance(v, _DEF_TYPES)), key=_value_key)

    def _label(self, node: ast.AST) -> str:
        name = getattr(node, "name", None) or self._index.lambda_names.get(id(node))
        return f"{name} (line {node.lineno})" if name else f"a lambda (line {node.lineno})"

    def _is_reference(self, node: ast.AST) -> bool:
        """Outermost node of a name chain (`F.conv2d`, `getattr(F, "conv2d")`) that reads a value."""
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                return False
        elif isinstance(node, ast.Attribute):
            if not isinstance(node.ctx, ast.Load):
                return False
        elif not (isinstance(node, ast.Call) and self._resolver.const_getattr(node) is not None):
            return False
        parent = self._index.parent.get(id(node))
        if isinstance(parent, ast.Attribute) and parent.value is node and isinstance(parent.ctx, ast.Load):
            return False
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is node:
            return self._resolver.const_getattr(parent) is None
        return True

    def _is_called(self, node: ast.AST) -> bool:
        parent = self._index.parent.get(id(node))
        return isinstance(parent, ast.Call) and parent.func is node

    def _as(self, node: ast.AST, name: str) -> str:
        text = " ".join(self._segment(node).split())
        if len(text) > 60:
            text = text[:57] + "..."
        return f" (as {text})" if text and text != name else ""

    def _segment(self, node: ast.AST) -> str:
        """The node's source text (ast.get_source_segment re-splits the whole file on every call)."""
        if self._lines is None:
            self._lines = [line.encode("utf-8", "surrogatepass") for line in re.split(r"\r\n|\r|\n", self.source)]
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if None in (first, last, start, end) or not 1 <= first <= last <= len(self._lines) or last - first > 5:
            return ""
        if first == last:
            chunk = self._lines[first - 1][start:end]
        else:
            chunk = b"\n".join([self._lines[first - 1][start:], *self._lines[first:last - 1], self._lines[last - 1][:end]])
        return chunk.decode("utf-8", "replace")

    # -- module variables changed by other statements

    def _mutations_of(self, name: str) -> list[ast.AST]:
        if self._mutations is None:
            self._mutations = self._index_mutations()
        return self._mutations.get(name, [])

    def _index_mutations(self) -> dict[str, list[ast.AST]]:
        found: dict[str, dict[int, ast.AST]] = {}
        for node in self._index.names:
            if not isinstance(node.ctx, ast.Load):
                continue
            if not any(b.scope is self._index.module for b in self._resolver.lookup_name(node)):
                continue  # a local variable
            site = self._mutation_site(node)
            if site is None:
                continue
            found.setdefault(node.id, {})[id(site)] = site
        return {k: list(v.values()) for k, v in found.items()}

    def _mutation_site(self, node: ast.Name) -> ast.AST | None:
        """`X[k] = v`, `X.a = v`, `del X[k]`, `X.update(...)`, `f(X)`: the code that may change X."""
        parent = self._index.parent
        top: ast.AST = node
        while isinstance(p := parent.get(id(top)), (ast.Attribute, ast.Subscript)) and p.value is top:
            top = p
        if top is not node:
            if isinstance(top.ctx, (ast.Store, ast.Del)):
                return self._statement_of(top)
            call = parent.get(id(top))
            return call if isinstance(call, ast.Call) and call.func is top else None
        holder = parent.get(id(node))
        if isinstance(holder, (ast.keyword, ast.Starred)):
            holder = parent.get(id(holder))
        if isinstance(holder, ast.Call) and holder.func is not node and self._may_mutate(holder):
            return holder
        return None

    def _may_mutate(self, call: ast.Call) -> bool:
        callees = self._resolver.values(call.func)
        if not callees or any(not isinstance(c, str) for c in callees):
            return True
        if any(c in ("builtins.setattr", "builtins.delattr") or c.startswith("operator.") for c in callees):
            return True
        args = [*call.args, *(k.value for k in call.keywords)]
        return any(isinstance(v, _DEF_TYPES) for a in args for v in self._resolver.values(a))

    def _statement_of(self, node: ast.AST) -> ast.AST:
        cur = node
        while not isinstance(cur, ast.stmt) and id(cur) in self._index.parent:
            cur = self._index.parent[id(cur)]
        return cur

    # -- top-level code that runs at import

    def _import_time(self) -> list[_Hit]:
        """Exec-like code run while the module is imported: it could rebind any checked name."""
        if self._import_time_hits is None:
            head = "the module's top-level code"
            starts = [(stmt, head, True) for stmt in self.tree.body]
            hits: list[_Hit] = []
            try:
                for entry in self._traverse(starts, calls_only=True):
                    if type(entry[0]) in _SUSPECT_TYPES and self._may_hit(*entry):
                        hits += self._check_node(*entry, None)
            except (RecursionError, MemoryError):
                hits = [_Hit("dynamic", "<unverifiable>", None, head, "is too deeply nested to verify")]
            self._import_time_hits = hits
        return self._import_time_hits


# ---- helpers -------------------------------------------------------------------------------------


def _parse(source: str, filename: str) -> ast.Module:
    try:
        tree = parse_python(source, filename)
        _check_shape(tree)
        with warnings.catch_warnings(), AST_LOCK:
            warnings.simplefilter("ignore")
            # Symtable/codegen errors (`return` outside function...) that ast.parse, itself a compile() with
            # PyCF_ONLY_AST, stops before. Compiling the tree is cheaper than compiling `source` again.
            compile(tree, filename, "exec", dont_inherit=True)
        return tree
    except SourceError:
        raise
    except SyntaxError as exc:
        raise SourceError(exc.msg or "invalid syntax", exc.lineno, exc.offset) from None
    except (RecursionError, MemoryError):
        raise SourceError("the code is nested too deeply to analyse") from None
    except Exception as exc:  # noqa: BLE001 - ValueError, OverflowError...: any refusal is a SourceError
        raise SourceError(str(exc) or type(exc).__name__) from None


def _check_shape(tree: ast.AST) -> None:
    if _within_limits(tree):
        return
    _report_shape(tree)


def _within_limits(tree: ast.AST) -> bool:
    """At most MAX_NODES nodes and MAX_DEPTH levels (a cheap walk, one level at a time)."""
    level: list[ast.AST] = [tree]
    count = depth = 0
    while level:
        depth += 1
        count += len(level)
        if count > MAX_NODES or depth > MAX_DEPTH:
            return False
        below: list[ast.AST] = []
        leaves = 0  # context and operator singletons one level down
        for node in level:
            kind = type(node)
            for name in _NODE_FIELDS.get(kind) or _node_fields(kind):
                value = getattr(node, name, None)
                if type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            below.append(item)
                elif isinstance(value, ast.AST):
                    below.append(value)
            if kind in _SINGLETON_FIELDS:
                for name in _SINGLETON_FIELDS[kind]:
                    value = getattr(node, name, None)
                    leaves += len(value) if type(value) is list else value is not None
        if leaves and (count + leaves > MAX_NODES or depth + 1 > MAX_DEPTH):
            return False
        count += leaves
        level = below
    return True


def _report_shape(tree: ast.AST) -> None:
    """Raise the SourceError for the first limit a depth-first walk breaks (its line is the one shown)."""
    stack: list[tuple[ast.AST, int, int | None]] = [(tree, 1, None)]
    count = 0
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", None) or line
        count += 1
        if count > MAX_NODES:
            raise SourceError(f"the file is too large to analyse (more than {MAX_NODES} syntax nodes)")
        if depth > MAX_DEPTH:
            raise SourceError(f"the code is nested more than {MAX_DEPTH} levels deep", line)
        stack.extend((child, depth + 1, line) for child in ast.iter_child_nodes(node))


def _is_plain_arithmetic(text: str) -> bool:
    if len(text) > 10_000:
        return False
    try:
        tree = parse_python(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            return False
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return False
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, ast.Subscript)):
            return False
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name not in _SAFE_EVAL_CALLS:
                return False
    return True


def _violations(function: str, hits: list[_Hit], reason: str) -> list[RuleViolation]:
    unique: dict[tuple[str, str, int | None], _Hit] = {}
    for hit in hits:
        unique.setdefault((hit.kind, hit.name, hit.line), hit)
    out = []
    for hit in unique.values():
        message = f"{hit.head} {hit.tail}"
        if hit.kind == "forbid" and reason:
            message += f": {reason}"
        out.append(RuleViolation(function, "forbid", hit.name, hit.line, message))
    return sorted(out, key=lambda v: (v.line if v.line is not None else -1, v.name, v.message))
