"""Trusted reference solutions for HW2 part 1 (convolution and pooling).

Never shown to students. ``torch.nn.functional`` is the ground truth wherever it applies.

Inputs are float64 numpy arrays; array results are float64 numpy arrays. Every name of the
student contract (``/work/shared/hw2/CONTRACT.md``) is defined here with the same semantics,
plus:

- ``TABLE1_IMAGE``, ``TABLE1_KERNEL``, ``TABLE1_GRAD_OUTPUT``: the fixed inputs of Table 1;
- ``mutant_*``: functions with the signature of the function they shadow, each making one
  classic mistake (named in its one-line docstring). The grader uses them to recognise a
  student's mistake and to prove that every question's cases catch it.

This module imports only numpy, torch and the standard library.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    # Table 1
    "TABLE1_IMAGE",
    "TABLE1_KERNEL",
    "TABLE1_GRAD_OUTPUT",
    # 1.1
    "CONV_OUTPUT_SHAPE",
    "conv_output_width",
    "CONV_OUTPUT_WIDTH_FORMULA",
    "CONV_OUTPUT",
    "conv2d",
    "INPUT_GRADIENT",
    "conv2d_input_grad",
    # 1.2
    "POOLING_MODULES",
    "max_pool2d",
    "avg_pool2d",
    "lp_pool2d",
    "MAXPOOL_OUTPUT",
    "LP_P_FOR_MAX",
    "LP_P_FOR_AVERAGE",
    "avg_pool_from_lp",
]

# --------------------------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------------------------

TABLE1_IMAGE = np.array(
    [
        [4, 5, 2, 2, 1],
        [3, 3, 2, 2, 4],
        [4, 3, 4, 1, 1],
        [5, 1, 4, 1, 2],
        [5, 1, 3, 1, 4],
    ],
    dtype=np.float64,
)
TABLE1_KERNEL = np.array(
    [
        [4, 3, 3],
        [5, 5, 5],
        [2, 4, 3],
    ],
    dtype=np.float64,
)
# 1.1(d): dE/dC_ij = 1 for every entry of the 3 x 3 output.
TABLE1_GRAD_OUTPUT = np.ones((3, 3), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _t(a) -> torch.Tensor:
    """A float64 torch tensor holding a copy of ``a``."""
    return torch.as_tensor(np.array(a, dtype=np.float64, copy=True), dtype=torch.float64)


def _np(t: torch.Tensor) -> np.ndarray:
    """A float64 numpy array from a tensor (detached, copied)."""
    return t.detach().cpu().numpy().astype(np.float64, copy=True)


def _pair(v) -> tuple[int, int]:
    """``k`` -> ``(k, k)``; ``(h, w)`` -> ``(h, w)`` (as Python ints)."""
    if isinstance(v, (tuple, list, np.ndarray)):
        h, w = (int(x) for x in v)
        return h, w
    return int(v), int(v)


def _as_2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {a.shape}")
    return a


def _pool(fn, x, kernel_size, stride):
    """Apply a torch pooling function ``fn(t, k, s)`` to (H, W) or (C, H, W) input."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (C, H, W), got shape {x.shape}")
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    t = _t(x)
    squeeze = t.ndim == 2
    if squeeze:
        t = t.unsqueeze(0)  # (1, H, W): one channel, unbatched
    out = fn(t, k, s)
    if squeeze:
        out = out.squeeze(0)
    return _np(out)


# --------------------------------------------------------------------------------------------
# 1.1 Convolution
# --------------------------------------------------------------------------------------------

# 1.1(a): output of Table 1, no padding, stride 1.
CONV_OUTPUT_SHAPE = (3, 3)


def conv_output_width(I, K, S, P):
    """1.1(b): output width O = floor((I + 2P - K) / S) + 1, in exact integer arithmetic."""
    I, K, S, P = int(I), int(K), int(S), int(P)
    return (I + 2 * P - K) // S + 1


# 1.1(b), string form: an expression in I, K, S, P.
CONV_OUTPUT_WIDTH_FORMULA = "floor((I + 2*P - K) / S) + 1"


def conv2d(image, kernel, stride=1, padding=0):
    """1.1(c): single-channel 2-D cross-correlation (no flip), zero padding on all sides, no bias."""
    x = _t(_as_2d(image))[None, None]
    w = _t(_as_2d(kernel))[None, None]
    return _np(F.conv2d(x, w, stride=int(stride), padding=int(padding))[0, 0])


def _conv2d_grads(image, kernel, grad_output, stride, padding):
    """(x, w, g) as (1, 1, H, W) tensors, once g is checked against F.conv2d's output shape."""
    x = _t(_as_2d(image))[None, None]
    w = _t(_as_2d(kernel))[None, None]
    out = F.conv2d(x, w, stride=int(stride), padding=int(padding))
    g = _t(_as_2d(grad_output))[None, None]
    if tuple(g.shape) != tuple(out.shape):
        raise ValueError(
            f"grad_output has shape {tuple(g.shape[2:])}, the output has {tuple(out.shape[2:])}"
        )
    return x, w, g


def conv2d_input_grad(image, kernel, grad_output, stride=1, padding=0):
    """1.1(d): dE/d(image) given dE/d(output) = grad_output: torch's backward of F.conv2d.

    torch.nn.grad.conv2d_input runs the kernel autograd would (aten.convolution_backward),
    without autograd.grad, whose grad_outputs check imports sympy (0.5 s per grading process)."""
    x, w, g = _conv2d_grads(image, kernel, grad_output, stride, padding)
    gx = torch.nn.grad.conv2d_input(x.shape, w, g, stride=int(stride), padding=int(padding))
    return _np(gx[0, 0])


CONV_OUTPUT = conv2d(TABLE1_IMAGE, TABLE1_KERNEL)
INPUT_GRADIENT = conv2d_input_grad(TABLE1_IMAGE, TABLE1_KERNEL, TABLE1_GRAD_OUTPUT)


# --------------------------------------------------------------------------------------------
# 1.2 Pooling
# --------------------------------------------------------------------------------------------

# 1.2(a)
POOLING_MODULES = {"max": "MaxPool2d", "average": "AvgPool2d", "lp": "LPPool2d"}


def max_pool2d(x, kernel_size, stride=None):
    """1.2(b): max over each window; x is (H, W) or (C, H, W); stride None means kernel_size."""
    return _pool(lambda t, k, s: F.max_pool2d(t, k, s), x, kernel_size, stride)


def avg_pool2d(x, kernel_size, stride=None):
    """1.2(b): mean over each window; x is (H, W) or (C, H, W); stride None means kernel_size."""
    return _pool(lambda t, k, s: F.avg_pool2d(t, k, s), x, kernel_size, stride)


def lp_pool2d(x, p, kernel_size, stride=None):
    """1.2(b): (sum of x^p over each window)^(1/p), as torch computes it."""
    return _pool(lambda t, k, s: F.lp_pool2d(t, p, k, s), x, kernel_size, stride)


# 1.2(c): max pooling of C with kernel 2, stride 1.
MAXPOOL_OUTPUT = max_pool2d(CONV_OUTPUT, 2, 1)

# 1.2(d)
LP_P_FOR_MAX = math.inf
LP_P_FOR_AVERAGE = 1


def avg_pool_from_lp(x, kernel_size, stride=None):
    """1.2(d): average pooling as LP pooling with p = 1 divided by the window size kh*kw."""
    kh, kw = _pair(kernel_size)
    return lp_pool2d(x, 1, kernel_size, stride) / (kh * kw)


# --------------------------------------------------------------------------------------------
# Mutants: one classic mistake each (same signature as the function they shadow)
# --------------------------------------------------------------------------------------------

# --- 1.1(b) -----------------------------------------------------------------------------


def mutant_conv_output_width_stride_one_formula(I, K, S, P):
    """Uses I - S(K - 1) + 2P, a formula that only holds for stride 1."""
    return int(I) - int(S) * (int(K) - 1) + 2 * int(P)


def mutant_conv_output_width_no_floor(I, K, S, P):
    """Forgets the floor: (I + 2P - K) / S + 1 in true division (fractional when S does not divide)."""
    return (int(I) + 2 * int(P) - int(K)) / int(S) + 1


def mutant_conv_output_width_ceil(I, K, S, P):
    """Rounds up instead of down: ceil((I + 2P - K) / S) + 1."""
    return -((-(int(I) + 2 * int(P) - int(K))) // int(S)) + 1


def mutant_conv_output_width_no_plus_one(I, K, S, P):
    """Forgets the + 1: floor((I + 2P - K) / S)."""
    return (int(I) + 2 * int(P) - int(K)) // int(S)


def mutant_conv_output_width_one_side_padding(I, K, S, P):
    """Counts the padding once instead of at both ends: floor((I + P - K) / S) + 1."""
    return (int(I) + int(P) - int(K)) // int(S) + 1


# --- 1.1(c) -----------------------------------------------------------------------------


def mutant_conv2d_flipped(image, kernel, stride=1, padding=0):
    """True convolution: the kernel is flipped in both axes (not torch's cross-correlation)."""
    k = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]
    return conv2d(image, k, stride, padding)


def mutant_conv2d_kernel_transposed(image, kernel, stride=1, padding=0):
    """Indexes the kernel as kernel[col][row]: correlates with the transposed kernel."""
    k = np.asarray(kernel, dtype=np.float64).T
    return conv2d(image, k, stride, padding)


def mutant_conv2d_pad_one_side(image, kernel, stride=1, padding=0):
    """Applies the zero padding P only at the top and on the left."""
    P = int(padding)
    x = np.pad(_as_2d(image), ((P, 0), (P, 0)))
    return conv2d(x, kernel, stride, 0)


def mutant_conv2d_ignores_padding(image, kernel, stride=1, padding=0):
    """Ignores the padding argument (always padding 0)."""
    return conv2d(image, kernel, stride, 0)


def mutant_conv2d_ignores_stride(image, kernel, stride=1, padding=0):
    """Ignores the stride argument (always stride 1)."""
    return conv2d(image, kernel, 1, padding)


# --- 1.1(d) -----------------------------------------------------------------------------


def mutant_conv2d_input_grad_unflipped(image, kernel, grad_output, stride=1, padding=0):
    """Full correlation of grad_output with the kernel NOT flipped (wrong orientation)."""
    k = np.asarray(kernel, dtype=np.float64)[::-1, ::-1]
    return conv2d_input_grad(image, k, grad_output, stride, padding)


def mutant_conv2d_input_grad_kernel_grad(image, kernel, grad_output, stride=1, padding=0):
    """Returns dE/d(kernel) (the kernel's shape, 3 x 3 for Table 1) instead of dE/d(image)."""
    x, w, g = _conv2d_grads(image, kernel, grad_output, stride, padding)
    gw = torch.nn.grad.conv2d_weight(x, w.shape, g, stride=int(stride), padding=int(padding))
    return _np(gw[0, 0])


def _full_conv_stride_one(grad_output, kernel):
    """Scatter grad_output through the kernel as if the stride were 1: (Ho+KH-1, Wo+KW-1)."""
    g = _t(_as_2d(grad_output))[None, None]
    w = _t(_as_2d(kernel))[None, None]
    return _np(F.conv_transpose2d(g, w, stride=1)[0, 0])


def mutant_conv2d_input_grad_ignores_stride(image, kernel, grad_output, stride=1, padding=0):
    """Scatters the gradient as if the stride were 1 (then crops the padding and fits the image's shape)."""
    H, W = _as_2d(image).shape
    P = int(padding)
    full = _full_conv_stride_one(grad_output, kernel)  # in padded coordinates
    full = full[P:, P:]
    out = np.zeros((H, W), dtype=np.float64)
    h, w = min(H, full.shape[0]), min(W, full.shape[1])
    out[:h, :w] = full[:h, :w]
    return out


def mutant_conv2d_input_grad_padded_shape(image, kernel, grad_output, stride=1, padding=0):
    """Forgets to crop the padding: returns the gradient w.r.t. the padded image, (H+2P, W+2P)."""
    P = int(padding)
    x = np.pad(_as_2d(image), ((P, P), (P, P)))
    return conv2d_input_grad(x, kernel, grad_output, stride, 0)


# --- 1.2(b) -----------------------------------------------------------------------------


def mutant_max_pool2d_stride_one(x, kernel_size, stride=None):
    """Treats stride=None as stride 1 instead of stride = kernel_size."""
    return max_pool2d(x, kernel_size, 1 if stride is None else stride)


def mutant_avg_pool2d_stride_one(x, kernel_size, stride=None):
    """Treats stride=None as stride 1 instead of stride = kernel_size."""
    return avg_pool2d(x, kernel_size, 1 if stride is None else stride)


def mutant_lp_pool2d_stride_one(x, p, kernel_size, stride=None):
    """Treats stride=None as stride 1 instead of stride = kernel_size."""
    return lp_pool2d(x, p, kernel_size, 1 if stride is None else stride)


def mutant_avg_pool2d_wrong_count(x, kernel_size, stride=None):
    """Divides the window sum by kh only instead of kh*kw (k instead of k^2 for square kernels)."""
    kh, kw = _pair(kernel_size)
    return avg_pool2d(x, kernel_size, stride) * (kh * kw) / kh


def mutant_lp_pool2d_factor_outside_root(x, p, kernel_size, stride=None):
    """Puts a 1/N factor outside the root: (1/N) (sum x^p)^(1/p), N = kh*kw."""
    kh, kw = _pair(kernel_size)
    return lp_pool2d(x, p, kernel_size, stride) / (kh * kw)


def mutant_lp_pool2d_power_mean(x, p, kernel_size, stride=None):
    """Power average ((1/N) sum x^p)^(1/p), factor inside the root: not torch's LP pooling."""
    kh, kw = _pair(kernel_size)
    return lp_pool2d(x, p, kernel_size, stride) / (kh * kw) ** (1.0 / p)


def mutant_lp_pool2d_no_root(x, p, kernel_size, stride=None):
    """Forgets the 1/p-th root: returns the sum of x^p over each window."""
    return _pool(
        lambda t, k, s: F.avg_pool2d(t.pow(p), k, s) * (k[0] * k[1]), x, kernel_size, stride
    )


def mutant_max_pool2d_abs(x, kernel_size, stride=None):
    """Takes the max of |x| (LP pooling with p = inf) instead of the max of x."""
    return max_pool2d(np.abs(np.asarray(x, dtype=np.float64)), kernel_size, stride)


# --- 1.2(d) -----------------------------------------------------------------------------


def mutant_avg_pool_from_lp_no_count(x, kernel_size, stride=None):
    """LP pooling with p = 1 and no division by the window size: sum pooling, not average."""
    return lp_pool2d(x, 1, kernel_size, stride)


def mutant_avg_pool_from_lp_p2(x, kernel_size, stride=None):
    """Uses p = 2 (a root-mean-square) instead of p = 1 before dividing by the window size."""
    kh, kw = _pair(kernel_size)
    return lp_pool2d(x, 2, kernel_size, stride) / (kh * kw)


# Which contract name each mutant shadows (for specs and for the tests of the tests).
MUTANTS = {
    "conv_output_width": [
        "mutant_conv_output_width_stride_one_formula",
        "mutant_conv_output_width_no_floor",
        "mutant_conv_output_width_ceil",
        "mutant_conv_output_width_no_plus_one",
        "mutant_conv_output_width_one_side_padding",
    ],
    "conv2d": [
        "mutant_conv2d_flipped",
        "mutant_conv2d_kernel_transposed",
        "mutant_conv2d_pad_one_side",
        "mutant_conv2d_ignores_padding",
        "mutant_conv2d_ignores_stride",
    ],
    "conv2d_input_grad": [
        "mutant_conv2d_input_grad_unflipped",
        "mutant_conv2d_input_grad_kernel_grad",
        "mutant_conv2d_input_grad_ignores_stride",
        "mutant_conv2d_input_grad_padded_shape",
    ],
    "max_pool2d": ["mutant_max_pool2d_stride_one", "mutant_max_pool2d_abs"],
    "avg_pool2d": ["mutant_avg_pool2d_stride_one", "mutant_avg_pool2d_wrong_count"],
    "lp_pool2d": [
        "mutant_lp_pool2d_stride_one",
        "mutant_lp_pool2d_factor_outside_root",
        "mutant_lp_pool2d_power_mean",
        "mutant_lp_pool2d_no_root",
    ],
    "avg_pool_from_lp": ["mutant_avg_pool_from_lp_no_count", "mutant_avg_pool_from_lp_p2"],
}
