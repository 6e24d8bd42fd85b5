"""Tests of the HW2 assignment content: reference, mutants, template and example submissions.

The literal numbers below are the oracle (copied from /work/shared/hw2/QUESTIONS.md). The
reference must reproduce them, agree with torch and with independent naive implementations on
seeded random cases, and every mutant must differ from it somewhere. The example submissions
are trusted here (imported into this process by path): the correct ones must agree with the
reference; the wrong ones must fail exactly the parts their docstrings name, which a small
independent grader below (``mini_grade``) decides.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import math
import re
import sys
import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
HW2 = ROOT / "problems" / "hw2"
EXAMPLES = ROOT / "submissions" / "examples"

CONTRACT_CONSTANTS = [
    "CONV_OUTPUT_SHAPE",
    "CONV_OUTPUT_WIDTH_FORMULA",
    "CONV_OUTPUT",
    "INPUT_GRADIENT",
    "POOLING_MODULES",
    "MAXPOOL_OUTPUT",
    "LP_P_FOR_MAX",
    "LP_P_FOR_AVERAGE",
]
CONTRACT_FUNCTIONS = [
    "conv_output_width",
    "conv2d",
    "conv2d_input_grad",
    "max_pool2d",
    "avg_pool2d",
    "lp_pool2d",
    "avg_pool_from_lp",
]
FORBID_IN = ["conv2d", "conv2d_input_grad", "max_pool2d", "avg_pool2d", "lp_pool2d"]

# ---------------------------------------------------------------------------- the oracle

A = [[4, 5, 2, 2, 1], [3, 3, 2, 2, 4], [4, 3, 4, 1, 1], [5, 1, 4, 1, 2], [5, 1, 3, 1, 4]]
B = [[4, 3, 3], [5, 5, 5], [2, 4, 3]]
C = [[109, 92, 72], [108, 85, 74], [110, 74, 79]]
C_FLIPPED = [[113, 87, 75], [114, 80, 75], [112, 73, 81]]
DE_DA = [
    [4, 7, 10, 6, 3],
    [9, 17, 25, 16, 8],
    [11, 23, 34, 23, 11],
    [7, 16, 24, 17, 8],
    [2, 6, 9, 7, 3],
]
DE_DB = [[30, 24, 19], [29, 21, 21], [30, 19, 21]]  # the 3 x 3 "gradient" mistake
MAXPOOL_C = [[109, 92], [110, 85]]
MODULES = {"max": "MaxPool2d", "average": "AvgPool2d", "lp": "LPPool2d"}

A64 = np.array(A, dtype=np.float64)
B64 = np.array(B, dtype=np.float64)
ONES33 = np.ones((3, 3))


# ---------------------------------------------------------------------------- loading


def load_module(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ref():
    return load_module(HW2 / "reference.py", "hw2_reference_under_test")


EXAMPLE_FILES = {
    "correct_numpy": EXAMPLES / "correct_numpy.py",
    "correct_loops": EXAMPLES / "correct_loops" / "hw2.py",
    "correct_torch": EXAMPLES / "correct_torch.py",
    "flipped_kernel": EXAMPLES / "flipped_kernel.py",
    "stride_one_formula": EXAMPLES / "stride_one_formula.py",
    "lua_torch_names": EXAMPLES / "lua_torch_names.py",
    "lp_factor_outside_root": EXAMPLES / "lp_factor_outside_root.py",
    "sum_not_average": EXAMPLES / "sum_not_average.py",
    "gradient_3x3": EXAMPLES / "gradient_3x3.py",
    "wrong_arithmetic": EXAMPLES / "wrong_arithmetic.py",
    "forbidden_conv": EXAMPLES / "forbidden_conv.py",
    "unfinished": EXAMPLES / "unfinished.py",
}
CORRECT = ["correct_numpy", "correct_loops", "correct_torch"]

_example_cache: dict[str, types.ModuleType] = {}


def example(name: str) -> types.ModuleType:
    if name not in _example_cache:
        _example_cache[name] = load_module(EXAMPLE_FILES[name], f"hw2_example_{name}")
    return _example_cache[name]


# ---------------------------------------------------------------------------- helpers


def arr(a) -> np.ndarray:
    """Any array-like result (numpy, nested lists, torch, any dtype) as float64 numpy."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def same(a, b, rtol=1e-4, atol=1e-4) -> bool:
    a, b = arr(a), arr(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def exact(a, b) -> bool:
    return same(a, b, rtol=0, atol=1e-9)


def pair(v):
    return (int(v), int(v)) if np.ndim(v) == 0 else (int(v[0]), int(v[1]))


# Independent naive implementations (no torch, no shared code with the reference).


def naive_conv2d(x, k, S, P):
    x = np.pad(np.asarray(x, float), P)
    k = np.asarray(k, float)
    KH, KW = k.shape
    Ho, Wo = (x.shape[0] - KH) // S + 1, (x.shape[1] - KW) // S + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = sum(
                x[i * S + u, j * S + v] * k[u, v] for u in range(KH) for v in range(KW)
            )
    return out


def naive_pool(x, kernel_size, stride, reduce):
    x = np.asarray(x, float)
    if x.ndim == 3:
        return np.stack([naive_pool(ch, kernel_size, stride, reduce) for ch in x])
    kh, kw = pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else pair(stride)
    Ho, Wo = (x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = reduce(x[i * sh : i * sh + kh, j * sw : j * sw + kw].ravel())
    return out


def naive_lp(p):
    return lambda w: float(np.sum(w**p) ** (1.0 / p))


# ---------------------------------------------------------------------------- formula strings

_FORMULA_FUNCS = {"floor": math.floor, "ceil": math.ceil}


def parse_formula(text: str) -> ast.Expression:
    """Parse an allow-listed formula (implicit products such as "2P" allowed); never eval."""
    text = text.replace("×", "*").replace("−", "-").replace("⌊", "floor(").replace("⌋", ")")
    text = re.sub(r"(\d)\s*([A-Za-z(])", r"\1*\2", text)  # 2P -> 2*P, 2(…) -> 2*(…)
    text = re.sub(r"\)\s*([A-Za-z(\d])", r")*\1", text)  # (…)(…) -> (…)*(…)
    return ast.parse(text, mode="eval")


def eval_formula(tree: ast.AST, env: dict[str, int]):
    """Exact evaluation (Fractions) of a parsed formula over the names I, K, S, P."""
    if isinstance(tree, ast.Expression):
        return eval_formula(tree.body, env)
    if isinstance(tree, ast.Constant) and isinstance(tree.value, int):
        return Fraction(tree.value)
    if isinstance(tree, ast.Name) and tree.id in env:
        return Fraction(env[tree.id])
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.USub, ast.UAdd)):
        v = eval_formula(tree.operand, env)
        return -v if isinstance(tree.op, ast.USub) else v
    if isinstance(tree, ast.BinOp):
        a, b = eval_formula(tree.left, env), eval_formula(tree.right, env)
        ops = {
            ast.Add: lambda: a + b,
            ast.Sub: lambda: a - b,
            ast.Mult: lambda: a * b,
            ast.Div: lambda: a / b,
            ast.FloorDiv: lambda: Fraction(a // b),
        }
        for op, f in ops.items():
            if isinstance(tree.op, op):
                return f()
    if (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id in _FORMULA_FUNCS
        and len(tree.args) == 1
        and not tree.keywords
    ):
        return Fraction(_FORMULA_FUNCS[tree.func.id](eval_formula(tree.args[0], env)))
    raise ValueError(f"not allowed in a formula: {ast.dump(tree)}")


def formula_grid(max_i=12, max_s=5, max_p=3):
    for I in range(1, max_i + 1):
        for P in range(0, max_p + 1):
            for K in range(1, I + 2 * P + 1):
                for S in range(1, max_s + 1):
                    yield I, K, S, P


# ---------------------------------------------------------------------------- random cases


def conv_cases(n=40, seed=20240611):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        H, W = (int(v) for v in rng.integers(1, 10, size=2))
        P = int(rng.integers(0, 3))
        KH = int(rng.integers(1, H + 2 * P + 1))
        KW = int(rng.integers(1, W + 2 * P + 1))
        S = int(rng.integers(1, 4))
        x = rng.normal(size=(H, W))
        k = rng.normal(size=(KH, KW))
        Ho, Wo = (H + 2 * P - KH) // S + 1, (W + 2 * P - KW) // S + 1
        g = rng.normal(size=(Ho, Wo))
        cases.append((x, k, g, S, P))
    return cases


def pool_cases(n=30, seed=7, nonneg=False):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        shape = [int(v) for v in rng.integers(2, 9, size=2)]
        if rng.random() < 0.5:
            shape = [int(rng.integers(1, 4))] + shape
        H, W = shape[-2:]
        kh, kw = int(rng.integers(1, H + 1)), int(rng.integers(1, W + 1))
        kernel = kh if (kh == kw or rng.random() < 0.3) and kh <= W else (kh, kw)
        r = rng.random()
        if r < 0.4:
            stride = None
        elif r < 0.7:
            stride = int(rng.integers(1, 4))
        else:
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        x = rng.uniform(0.0, 3.0, size=shape) if nonneg else rng.normal(size=shape)
        cases.append((x, kernel, stride))
    return cases


# ============================================================================ the reference


def test_known_answers_literal(ref):
    assert tuple(ref.CONV_OUTPUT_SHAPE) == (3, 3)
    assert ref.conv_output_width(5, 3, 1, 0) == 3
    assert ref.conv_output_width(5, 3, 2, 0) == 2  # the stride-1 formula gives 1
    assert ref.CONV_OUTPUT_WIDTH_FORMULA == "floor((I + 2*P - K) / S) + 1"
    assert exact(ref.TABLE1_IMAGE, A) and exact(ref.TABLE1_KERNEL, B)
    assert exact(ref.TABLE1_GRAD_OUTPUT, ONES33)
    assert exact(ref.CONV_OUTPUT, C)
    assert exact(ref.conv2d(A64, B64), C)
    assert exact(ref.INPUT_GRADIENT, DE_DA)
    assert exact(ref.conv2d_input_grad(A64, B64, ONES33), DE_DA)
    assert float(np.sum(ref.INPUT_GRADIENT)) == 306 == 9 * 34
    assert ref.POOLING_MODULES == MODULES
    assert exact(ref.MAXPOOL_OUTPUT, MAXPOOL_C)
    assert exact(ref.max_pool2d(np.array(C, float), 2, 1), MAXPOOL_C)
    assert ref.LP_P_FOR_MAX == math.inf
    assert ref.LP_P_FOR_AVERAGE == 1
    for name in ["CONV_OUTPUT", "INPUT_GRADIENT", "MAXPOOL_OUTPUT"]:
        assert getattr(ref, name).dtype == np.float64


def test_reference_returns_float64_numpy(ref):
    x = np.arange(30, dtype=float).reshape(5, 6)
    outs = [
        ref.conv2d(x, B64, 2, 1),
        ref.conv2d_input_grad(x, B64, np.ones((3, 3)), 2, 1),
        ref.max_pool2d(x, 2),
        ref.avg_pool2d(x, (2, 3)),
        ref.lp_pool2d(x, 2, 2, 1),
        ref.avg_pool_from_lp(x, 3),
    ]
    for o in outs:
        assert type(o) is np.ndarray and o.dtype == np.float64


def test_formula_function_and_string_agree_with_torch_shapes(ref):
    tree = parse_formula(ref.CONV_OUTPUT_WIDTH_FORMULA)
    for I, K, S, P in formula_grid():
        o = ref.conv_output_width(I, K, S, P)
        assert type(o) is int
        assert o == math.floor(Fraction(I + 2 * P - K, S)) + 1
        assert eval_formula(tree, dict(I=I, K=K, S=S, P=P)) == o
    # against the shape torch actually produces (a coarser grid, one axis)
    for I, K, S, P in formula_grid(max_i=7, max_s=3, max_p=2):
        out = F.conv2d(torch.zeros(1, 1, 1, I), torch.zeros(1, 1, 1, K), stride=S, padding=(0, P))
        assert out.shape[-1] == ref.conv_output_width(I, K, S, P), (I, K, S, P)


def test_conv2d_matches_torch_and_naive(ref):
    for x, k, _g, S, P in conv_cases():
        got = ref.conv2d(x, k, S, P)
        want = F.conv2d(torch.tensor(x)[None, None], torch.tensor(k)[None, None], stride=S,
                        padding=P)[0, 0].numpy()
        assert same(got, want, 1e-10, 1e-10)
        assert same(got, naive_conv2d(x, k, S, P), 1e-10, 1e-10)
        assert got.shape == (ref.conv_output_width(x.shape[0], k.shape[0], S, P),
                             ref.conv_output_width(x.shape[1], k.shape[1], S, P))


def test_conv2d_input_grad_matches_torch_and_adjoint(ref):
    rng = np.random.default_rng(3)
    for x, k, g, S, P in conv_cases(seed=99):
        got = ref.conv2d_input_grad(x, k, g, S, P)
        assert got.shape == x.shape
        want = torch.nn.grad.conv2d_input(
            (1, 1) + x.shape, torch.tensor(k)[None, None], torch.tensor(g)[None, None],
            stride=S, padding=P,
        )[0, 0].numpy()
        assert same(got, want, 1e-10, 1e-10)
        # conv2d is linear in the image: <conv2d(y), g> == <y, dE/dx> for every y.
        for _ in range(3):
            y = rng.normal(size=x.shape)
            lhs = float(np.sum(naive_conv2d(y, k, S, P) * g))
            rhs = float(np.sum(y * got))
            assert math.isclose(lhs, rhs, rel_tol=1e-9, abs_tol=1e-9)


def test_pooling_matches_torch_and_naive(ref):
    for x, kernel, stride in pool_cases():
        t = torch.tensor(x)
        t3 = t if t.dim() == 3 else t[None]
        kt = pair(kernel)
        st = kt if stride is None else pair(stride)

        def back(o):
            return o.numpy() if t.dim() == 3 else o[0].numpy()

        assert same(ref.max_pool2d(x, kernel, stride), back(F.max_pool2d(t3, kt, st)), 1e-12, 1e-12)
        assert same(ref.max_pool2d(x, kernel, stride), naive_pool(x, kernel, stride, np.max), 1e-12, 1e-12)
        assert same(ref.avg_pool2d(x, kernel, stride), back(F.avg_pool2d(t3, kt, st)), 1e-12, 1e-12)
        assert same(ref.avg_pool2d(x, kernel, stride), naive_pool(x, kernel, stride, np.mean), 1e-12, 1e-12)
        assert same(ref.avg_pool_from_lp(x, kernel, stride), naive_pool(x, kernel, stride, np.mean), 1e-12, 1e-12)
        for p in (1, 2):  # defined for signed inputs
            assert same(ref.lp_pool2d(x, p, kernel, stride), back(F.lp_pool2d(t3, p, kt, st)), 1e-12, 1e-12)
            assert same(ref.lp_pool2d(x, p, kernel, stride), naive_pool(x, kernel, stride, naive_lp(p)), 1e-10, 1e-10)
    for x, kernel, stride in pool_cases(seed=8, nonneg=True):
        t = torch.tensor(x)
        t3 = t if t.dim() == 3 else t[None]
        kt = pair(kernel)
        st = kt if stride is None else pair(stride)
        for p in (1, 1.5, 2, 3, 4):
            want = F.lp_pool2d(t3, p, kt, st)
            want = want.numpy() if t.dim() == 3 else want[0].numpy()
            assert same(ref.lp_pool2d(x, p, kernel, stride), want, 1e-12, 1e-12)
            assert same(ref.lp_pool2d(x, p, kernel, stride), naive_pool(x, kernel, stride, naive_lp(p)), 1e-10, 1e-10)


def test_lp_limits_for_1_2d(ref):
    rng = np.random.default_rng(11)
    x = rng.uniform(0.5, 2.0, size=(3, 6, 6))
    mx = ref.max_pool2d(x, 2)
    # p -> inf tends to max pooling (non-negative inputs); torch's p = inf is max of |x|
    assert same(ref.lp_pool2d(x, ref.LP_P_FOR_MAX, 2), mx, 0, 1e-12)
    assert same(ref.lp_pool2d(x, 200, 2), mx, 1e-2, 0)
    # p = 1 is sum pooling; dividing by the window size gives average pooling
    assert same(ref.lp_pool2d(x, ref.LP_P_FOR_AVERAGE, (2, 3)), ref.avg_pool2d(x, (2, 3)) * 6, 1e-12, 1e-12)
    assert same(ref.avg_pool_from_lp(x, (2, 3), 1), ref.avg_pool2d(x, (2, 3), 1), 1e-12, 1e-12)


def test_pooling_accepts_2d_3d_and_rectangular(ref):
    x = np.arange(2 * 5 * 7, dtype=float).reshape(2, 5, 7)
    assert ref.max_pool2d(x, (2, 3)).shape == (2, 2, 2)
    assert ref.avg_pool2d(x[0], (2, 3), (1, 2)).shape == (4, 3)
    assert ref.lp_pool2d(x, 2, 3).shape == (2, 1, 2)
    assert ref.lp_pool2d(x, 2, [3, 2], [1, 1]).shape == (2, 3, 6)
    with pytest.raises(ValueError):
        ref.max_pool2d(np.zeros(4), 2)


# ============================================================================ the mutants

CONV_REP = [  # (image, kernel, grad_output, stride, padding)
    (A64, B64, ONES33, 1, 0),
    *[(x, k, g, S, P) for x, k, g, S, P in conv_cases(n=12, seed=5) if min(k.shape) > 1],
]
_rng = np.random.default_rng(17)
CONV_REP += [
    (_rng.normal(size=(7, 6)), _rng.normal(size=(3, 2)), _rng.normal(size=(4, 4)), 2, 1),
    (_rng.normal(size=(8, 8)), _rng.normal(size=(3, 3)), _rng.normal(size=(4, 4)), 2, 1),
]
POOL_REP = [  # (x, kernel_size, stride)
    (np.array(C, float), 2, None),
    (np.array(C, float), 2, 1),
    (_rng.normal(size=(2, 6, 6)), 2, None),
    (_rng.normal(size=(5, 7)), (2, 3), None),
    (_rng.uniform(0, 3, size=(3, 8, 9)), (3, 2), (2, 1)),
]
LP_P = [2, 3]


def _call(f, *args):
    try:
        return f(*args)
    except Exception as exc:  # a mutant that crashes on a case differs from the reference
        return exc


def _differs(a, b) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return True
    return not same(a, b, 1e-9, 1e-9)


def _mutant_diff_cases(ref, target: str, mutant) -> list:
    """The representative cases on which ``mutant`` differs from the reference ``target``."""
    good = getattr(ref, target)
    diffs = []
    if target == "conv_output_width":
        for case in formula_grid(max_i=8, max_s=3, max_p=2):
            if mutant(*case) != good(*case):
                diffs.append(case)
    elif target == "conv2d":
        for n, (x, k, _g, S, P) in enumerate(CONV_REP):
            if _differs(_call(mutant, x, k, S, P), good(x, k, S, P)):
                diffs.append(n)
    elif target == "conv2d_input_grad":
        for n, (x, k, g, S, P) in enumerate(CONV_REP):
            if _differs(_call(mutant, x, k, g, S, P), good(x, k, g, S, P)):
                diffs.append(n)
    elif target == "lp_pool2d":
        for n, (x, kernel, stride) in enumerate(POOL_REP):
            for p in LP_P:
                xx = np.abs(x)
                if _differs(_call(mutant, xx, p, kernel, stride), good(xx, p, kernel, stride)):
                    diffs.append((n, p))
    else:
        for n, (x, kernel, stride) in enumerate(POOL_REP):
            if _differs(_call(mutant, x, kernel, stride), good(x, kernel, stride)):
                diffs.append(n)
    return diffs


def _all_mutants(ref):
    return sorted(n for n in dir(ref) if n.startswith("mutant_") and callable(getattr(ref, n)))


def test_every_mutant_is_registered_and_documented(ref):
    registered = [m for ms in ref.MUTANTS.values() for m in ms]
    assert sorted(registered) == _all_mutants(ref)
    assert len(set(registered)) == len(registered)
    for target, names in ref.MUTANTS.items():
        assert target in CONTRACT_FUNCTIONS
        good = inspect.signature(getattr(ref, target))
        for name in names:
            m = getattr(ref, name)
            doc = inspect.getdoc(m)
            assert doc and "\n" not in doc.strip(), f"{name} needs a one-line docstring"
            assert inspect.signature(m) == good, f"{name} must have the signature of {target}"


@pytest.mark.parametrize(
    "target,mutant",
    [
        (t, m)
        for t, ms in load_module(HW2 / "reference.py", "hw2_reference_for_params").MUTANTS.items()
        for m in ms
    ],
)
def test_mutant_differs_from_reference(ref, target, mutant):
    diffs = _mutant_diff_cases(ref, target, getattr(ref, mutant))
    assert diffs, f"{mutant} coincides with {target} on every representative case"


def test_required_mutants_exist(ref):
    required = [
        "mutant_conv2d_flipped",
        "mutant_conv2d_pad_one_side",
        "mutant_conv2d_ignores_padding",
        "mutant_conv2d_ignores_stride",
        "mutant_conv2d_input_grad_unflipped",
        "mutant_conv2d_input_grad_kernel_grad",
        "mutant_conv2d_input_grad_ignores_stride",
        "mutant_max_pool2d_stride_one",
        "mutant_avg_pool2d_stride_one",
        "mutant_lp_pool2d_stride_one",
        "mutant_avg_pool2d_wrong_count",
        "mutant_lp_pool2d_factor_outside_root",
        "mutant_lp_pool2d_power_mean",
        "mutant_avg_pool_from_lp_no_count",
    ]
    for name in required:
        assert callable(getattr(ref, name, None)), name


def test_mutants_make_the_named_mistake(ref):
    # 1.1(b)
    assert ref.mutant_conv_output_width_stride_one_formula(5, 3, 2, 0) == 1
    assert ref.mutant_conv_output_width_stride_one_formula(5, 3, 1, 0) == 3
    assert ref.mutant_conv_output_width_no_floor(6, 3, 2, 0) == 2.5
    assert ref.mutant_conv_output_width_ceil(6, 3, 2, 0) == 3
    assert ref.mutant_conv_output_width_no_plus_one(5, 3, 1, 0) == 2
    assert ref.mutant_conv_output_width_one_side_padding(5, 3, 1, 1) == 4
    # 1.1(c) on Table 1
    assert exact(ref.mutant_conv2d_flipped(A64, B64), C_FLIPPED)
    assert not exact(ref.mutant_conv2d_kernel_transposed(A64, B64), C)
    x = np.arange(36.0).reshape(6, 6)
    assert ref.mutant_conv2d_pad_one_side(x, B64, 1, 1).shape == (5, 5)
    assert ref.mutant_conv2d_ignores_padding(x, B64, 1, 2).shape == (4, 4)
    assert ref.mutant_conv2d_ignores_stride(x, B64, 2, 0).shape == (4, 4)
    # 1.1(d) on Table 1: same 5 x 5 shape but wrong orientation; the 3 x 3 kernel gradient
    un = ref.mutant_conv2d_input_grad_unflipped(A64, B64, ONES33)
    assert un.shape == (5, 5) and not exact(un, DE_DA)
    assert exact(un, ref.conv2d_input_grad(A64, B64[::-1, ::-1], ONES33))  # kernel orientation
    assert exact(ref.mutant_conv2d_input_grad_kernel_grad(A64, B64, ONES33), DE_DB)
    g = np.ones((2, 2))
    ig = ref.mutant_conv2d_input_grad_ignores_stride(np.zeros((5, 5)), B64, g, 2, 0)
    assert ig.shape == (5, 5)
    assert not exact(ig, ref.conv2d_input_grad(np.zeros((5, 5)), B64, g, 2, 0))
    assert exact(ref.mutant_conv2d_input_grad_ignores_stride(A64, B64, ONES33), DE_DA)
    assert ref.mutant_conv2d_input_grad_padded_shape(A64, B64, np.ones((5, 5)), 1, 1).shape == (7, 7)
    # 1.2(b)
    c = np.array(C, float)
    assert exact(ref.mutant_max_pool2d_stride_one(c, 2), MAXPOOL_C)
    assert ref.max_pool2d(c, 2).shape == (1, 1) and exact(ref.max_pool2d(c, 2), [[109]])
    y = np.arange(16.0).reshape(4, 4)
    assert exact(ref.mutant_avg_pool2d_wrong_count(y, 2), ref.avg_pool2d(y, 2) * 2)
    n = 4
    assert same(ref.mutant_lp_pool2d_factor_outside_root(y, 2, 2), ref.lp_pool2d(y, 2, 2) / n, 1e-12, 1e-12)
    assert same(ref.mutant_lp_pool2d_power_mean(y, 2, 2),
                naive_pool(y, 2, None, lambda w: float(np.mean(w**2) ** 0.5)), 1e-12, 1e-12)
    assert same(ref.mutant_lp_pool2d_no_root(y, 2, 2), naive_pool(y, 2, None, lambda w: float(np.sum(w**2))), 1e-12, 1e-12)
    # 1.2(d)
    assert exact(ref.mutant_avg_pool_from_lp_no_count(y, 2), ref.avg_pool2d(y, 2) * n)


def test_mutants_on_table1_report(ref):
    """Which mutants Table 1 alone catches (stride / padding mistakes need other cases)."""
    caught = {m for t in ("conv2d", "conv2d_input_grad") for m in ref.MUTANTS[t]
              if 0 in _mutant_diff_cases(ref, t, getattr(ref, m))}
    assert caught == {
        "mutant_conv2d_flipped",
        "mutant_conv2d_kernel_transposed",
        "mutant_conv2d_input_grad_unflipped",
        "mutant_conv2d_input_grad_kernel_grad",
    }


# ============================================================================ the template


def test_template_imports_and_is_all_missing():
    t = load_module(HW2 / "template.py", "hw2_template_under_test")
    for name in CONTRACT_CONSTANTS:
        assert hasattr(t, name) and getattr(t, name) is None, name
    for name in CONTRACT_FUNCTIONS:
        f = getattr(t, name)
        assert inspect.getdoc(f), f"{name} needs a docstring"
        ref_sig = inspect.signature(
            getattr(load_module(HW2 / "reference.py", "hw2_ref_sig"), name)
        )
        assert inspect.signature(f) == ref_sig, name
        args = [None] * len([p for p in ref_sig.parameters.values() if p.default is p.empty])
        with pytest.raises(NotImplementedError):
            f(*args)
    src = (HW2 / "template.py").read_text()
    for name in CONTRACT_CONSTANTS:
        assert re.search(rf"^{name} = None  # TODO: replace None with your answer", src, re.M), name
    report = mini_grade(t, src)
    assert all(status == "missing" for status in report.values()), report


# ============================================================================ examples


def _norm_shape(v):
    if isinstance(v, str):
        nums = re.findall(r"\d+", v)
        return tuple(int(n) for n in nums)
    return tuple(int(n) for n in v)


def _module_ok(v, want):
    if isinstance(v, type):
        return v is getattr(torch.nn, want)
    return str(v).strip() in {want, "nn." + want, "torch.nn." + want}


def _inf(v):
    if isinstance(v, str):
        return v.strip().lower() in {"inf", "infinity", "∞", "math.inf", "+inf"}
    try:
        return float(v) == math.inf
    except (TypeError, ValueError):
        return False


FORBIDDEN = {
    "torch.nn.functional.conv2d",
    "torch.conv2d",
    "torch.nn.functional.max_pool2d",
    "torch.nn.functional.avg_pool2d",
    "torch.nn.functional.lp_pool2d",
    "scipy.signal.correlate2d",
    "scipy.signal.convolve2d",
}
FORBIDDEN_PREFIXES = ("torch.nn.Conv", "torch.nn.MaxPool", "torch.nn.AvgPool", "torch.nn.LPPool")


def _aliases(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _calls(src: str, func: str) -> set[str]:
    """Fully qualified names called inside the top-level function ``func``."""
    tree = ast.parse(src)
    aliases = _aliases(tree)
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    d = _dotted(sub.func)
                    if d:
                        head, _, rest = d.partition(".")
                        full = aliases.get(head, head) + ("." + rest if rest else "")
                        names.add(full)
    return names


def _forbidden_call(src: str, func: str) -> str | None:
    for name in _calls(src, func):
        if name in FORBIDDEN or name.startswith(FORBIDDEN_PREFIXES):
            return name
    return None


class Missing(Exception):
    pass


def _get(mod, name):
    v = getattr(mod, name, None)
    if v is None:
        raise Missing(name)
    return v


def _fn_cases_ok(f, good, cases, tol=1e-4) -> bool:
    for args in cases:
        try:
            got = f(*args)
        except NotImplementedError:
            raise Missing(f.__name__)
        if not same(got, good(*args), tol, tol):
            return False
    return True


def mini_grade(mod, src: str) -> dict[str, str]:
    """An independent, minimal grader: part -> "pass" | "fail" | "missing" | "forbidden"."""
    ref = load_module(HW2 / "reference.py", "hw2_ref_for_mini_grade")
    conv = [(x, k, S, P) for x, k, _g, S, P in conv_cases(n=25, seed=123)] + [(A64, B64, 1, 0)]
    grad = [(x, k, g, S, P) for x, k, g, S, P in conv_cases(n=25, seed=321)] + [(A64, B64, ONES33, 1, 0)]
    pools = pool_cases(n=20, seed=55) + [(np.array(C, float), 2, 1)]
    lp_pools = [(np.abs(x), p, k, s) for (x, k, s), p in zip(pool_cases(n=24, seed=56), itertools.cycle([1, 2, 3, 1.5]))]

    def part(check):
        try:
            return "pass" if check() else "fail"
        except Missing:
            return "missing"

    def fn_part(name, cases, tol=1e-4):
        def check():
            f = getattr(mod, name, None)
            if f is None:
                raise Missing(name)
            if name in FORBID_IN and _forbidden_call(src, name):
                return "forbidden"
            return _fn_cases_ok(f, getattr(ref, name), cases, tol)

        try:
            r = check()
        except Missing:
            return "missing"
        return r if r == "forbidden" else ("pass" if r else "fail")

    def formula_ok():
        f = getattr(mod, "conv_output_width", None)
        s = getattr(mod, "CONV_OUTPUT_WIDTH_FORMULA", None)
        if f is None and s is None:
            raise Missing("1.1b")
        tree = parse_formula(s) if s is not None else None
        for case in formula_grid(max_i=10, max_s=4, max_p=3):
            want = ref.conv_output_width(*case)
            if f is not None:
                try:
                    if f(*case) != want:
                        return False
                except NotImplementedError:
                    if s is None:
                        raise Missing("1.1b")
                    f = None
            if tree is not None and eval_formula(tree, dict(zip("IKSP", case))) != want:
                return False
        return True

    def avg_from_lp_ok():
        if getattr(mod, "avg_pool_from_lp", None) is None:
            raise Missing("avg_pool_from_lp")
        values_ok = _fn_cases_ok(mod.avg_pool_from_lp, ref.avg_pool2d, pools)
        return values_ok and "lp_pool2d" in _calls(src, "avg_pool_from_lp")

    return {
        "1.1a": part(lambda: _norm_shape(_get(mod, "CONV_OUTPUT_SHAPE")) == (3, 3)),
        "1.1b": part(formula_ok),
        "1.1c:value": part(lambda: same(_get(mod, "CONV_OUTPUT"), C)),
        "1.1c:conv2d": fn_part("conv2d", conv),
        "1.1d:value": part(lambda: same(_get(mod, "INPUT_GRADIENT"), DE_DA)),
        "1.1d:conv2d_input_grad": fn_part("conv2d_input_grad", grad),
        "1.2a": part(lambda: set(_get(mod, "POOLING_MODULES")) == set(MODULES)
                     and all(_module_ok(mod.POOLING_MODULES[k], v) for k, v in MODULES.items())),
        "1.2b:max_pool2d": fn_part("max_pool2d", pools),
        "1.2b:avg_pool2d": fn_part("avg_pool2d", pools),
        "1.2b:lp_pool2d": fn_part("lp_pool2d", lp_pools),
        "1.2c": part(lambda: same(_get(mod, "MAXPOOL_OUTPUT"), MAXPOOL_C)),
        "1.2d:LP_P_FOR_MAX": part(lambda: _inf(_get(mod, "LP_P_FOR_MAX"))),
        "1.2d:LP_P_FOR_AVERAGE": part(lambda: float(_get(mod, "LP_P_FOR_AVERAGE")) == 1.0),
        "1.2d:avg_pool_from_lp": part(avg_from_lp_ok),
    }


# Parts that must NOT pass, per example (every other part must pass).
EXPECTED_LOSSES = {
    "correct_numpy": {},
    "correct_loops": {},
    "correct_torch": {},
    "flipped_kernel": {"1.1c:value": "fail", "1.1c:conv2d": "fail"},
    "stride_one_formula": {"1.1b": "fail"},
    "lua_torch_names": {"1.2a": "fail"},
    "lp_factor_outside_root": {"1.2b:lp_pool2d": "fail"},
    "sum_not_average": {"1.2d:avg_pool_from_lp": "fail"},
    "gradient_3x3": {"1.1d:value": "fail", "1.1d:conv2d_input_grad": "fail"},
    "wrong_arithmetic": {"1.1a": "fail"},
    "forbidden_conv": {"1.1c:conv2d": "forbidden"},
    "unfinished": {
        "1.1b": "missing",
        "1.1d:value": "missing",
        "1.1d:conv2d_input_grad": "missing",
        "1.2b:max_pool2d": "missing",
        "1.2b:avg_pool2d": "missing",
        "1.2b:lp_pool2d": "missing",
        "1.2c": "missing",
        "1.2d:LP_P_FOR_MAX": "missing",
        "1.2d:LP_P_FOR_AVERAGE": "missing",
        "1.2d:avg_pool_from_lp": "missing",
    },
}


def test_every_example_is_listed():
    on_disk = {p.stem for p in EXAMPLES.glob("*.py")} | {
        p.parent.name for p in EXAMPLES.glob("*/hw2.py")
    }
    assert on_disk == set(EXAMPLE_FILES) == set(EXPECTED_LOSSES)


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_example_loses_exactly_the_named_parts(name):
    mod = example(name)
    src = EXAMPLE_FILES[name].read_text()
    report = mini_grade(mod, src)
    expected = {p: EXPECTED_LOSSES[name].get(p, "pass") for p in report}
    assert report == expected


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSSES))
def test_example_docstring_names_the_student_and_questions(name):
    src = EXAMPLE_FILES[name].read_text()
    doc = ast.get_docstring(ast.parse(src))
    assert doc and doc.startswith("Example submission:")
    assert "Expected grade:" in doc
    for part in EXPECTED_LOSSES[name]:
        assert part.split(":")[0] in doc, (name, part)


@pytest.mark.parametrize("name", [n for n in EXPECTED_LOSSES if n not in ("unfinished",)])
def test_example_defines_every_contract_name(name):
    mod = example(name)
    for n in CONTRACT_FUNCTIONS + CONTRACT_CONSTANTS:
        if n in ("conv_output_width", "CONV_OUTPUT_WIDTH_FORMULA"):
            continue
        assert getattr(mod, n, None) is not None, n
    assert (getattr(mod, "conv_output_width", None) is not None
            or getattr(mod, "CONV_OUTPUT_WIDTH_FORMULA", None) is not None)
    src = EXAMPLE_FILES[name].read_text()
    assert "lp_pool2d" in _calls(src, "avg_pool_from_lp")
    for func in FORBID_IN:
        hit = _forbidden_call(src, func)
        if name == "forbidden_conv" and func == "conv2d":
            assert hit == "torch.nn.functional.conv2d"
        else:
            assert hit is None, (name, func, hit)


@pytest.mark.parametrize("name", CORRECT)
def test_correct_example_matches_reference(ref, name):
    mod = example(name)
    # Table 1
    assert _norm_shape(mod.CONV_OUTPUT_SHAPE) == (3, 3)
    assert same(mod.CONV_OUTPUT, C, 0, 1e-6)
    assert same(mod.conv2d(A64, B64), C, 0, 1e-4)
    assert same(mod.INPUT_GRADIENT, DE_DA, 0, 1e-6)
    assert same(mod.conv2d_input_grad(A64, B64, ONES33), DE_DA, 0, 1e-4)
    assert same(mod.MAXPOOL_OUTPUT, MAXPOOL_C, 0, 1e-6)
    assert all(_module_ok(mod.POOLING_MODULES[k], v) for k, v in MODULES.items())
    assert _inf(mod.LP_P_FOR_MAX) and mod.LP_P_FOR_AVERAGE == 1
    # random cases
    for x, k, g, S, P in conv_cases(n=30, seed=2024):
        assert same(mod.conv2d(x, k, S, P), ref.conv2d(x, k, S, P))
        assert same(mod.conv2d_input_grad(x, k, g, S, P), ref.conv2d_input_grad(x, k, g, S, P))
    for x, kernel, stride in pool_cases(n=30, seed=77):
        assert same(mod.max_pool2d(x, kernel, stride), ref.max_pool2d(x, kernel, stride))
        assert same(mod.avg_pool2d(x, kernel, stride), ref.avg_pool2d(x, kernel, stride))
        assert same(mod.avg_pool_from_lp(x, kernel, stride), ref.avg_pool_from_lp(x, kernel, stride))
        for p in (1, 2):
            assert same(mod.lp_pool2d(x, p, kernel, stride), ref.lp_pool2d(x, p, kernel, stride))
    for x, kernel, stride in pool_cases(n=20, seed=78, nonneg=True):
        for p in (1.5, 3, math.inf):
            assert same(mod.lp_pool2d(x, p, kernel, stride), ref.lp_pool2d(x, p, kernel, stride))
    # the formula, in whichever form the example gives it
    f = getattr(mod, "conv_output_width", None)
    s = getattr(mod, "CONV_OUTPUT_WIDTH_FORMULA", None)
    tree = parse_formula(s) if s is not None else None
    for case in formula_grid():
        if f is not None:
            assert f(*case) == ref.conv_output_width(*case), case
        if tree is not None:
            assert eval_formula(tree, dict(zip("IKSP", case))) == ref.conv_output_width(*case)


def test_example_styles_are_as_briefed():
    n, l, t = example("correct_numpy"), example("correct_loops"), example("correct_torch")
    assert type(n.conv2d(A64, B64)) is np.ndarray and not hasattr(n, "CONV_OUTPUT_WIDTH_FORMULA")
    assert n.CONV_OUTPUT_SHAPE == (3, 3) and n.LP_P_FOR_MAX == math.inf
    assert n.POOLING_MODULES["max"] == "nn.MaxPool2d"
    assert type(l.conv2d(A64, B64)) is list and not hasattr(l, "conv_output_width")
    assert l.CONV_OUTPUT_SHAPE == "3x3" and l.LP_P_FOR_MAX == "inf"
    assert l.CONV_OUTPUT_WIDTH_FORMULA == "floor((I + 2P - K) / S) + 1"
    assert type(l.max_pool2d(np.zeros((2, 4, 4)), 2)) is list
    assert t.conv2d(A64, B64).dtype == torch.float32
    assert t.CONV_OUTPUT.dtype == torch.float32 and t.CONV_OUTPUT_SHAPE == "3 × 3"
    assert t.POOLING_MODULES == {
        "max": torch.nn.MaxPool2d, "average": torch.nn.AvgPool2d, "lp": torch.nn.LPPool2d
    }
    # the wrong constants are the briefed ones
    assert same(example("flipped_kernel").CONV_OUTPUT, C_FLIPPED, 0, 0)
    assert same(example("gradient_3x3").INPUT_GRADIENT, DE_DB, 0, 1e-9)
    assert tuple(example("wrong_arithmetic").CONV_OUTPUT_SHAPE) == (2, 2)
    assert example("stride_one_formula").conv_output_width(5, 3, 2, 0) == 1
    assert example("lua_torch_names").POOLING_MODULES == {
        "max": "SpatialMaxPooling", "average": "SpatialAveragePooling", "lp": "SpatialLPPooling"
    }
