"""Example submission: a student who derived the output-size formula from a stride-1 picture.

Copy of ``correct_numpy.py`` with ONE mistake: ``conv_output_width`` returns
``I - S*(K - 1) + 2*P``, which agrees with floor((I + 2P - K) / S) + 1 only when S = 1
(counterexamples: I=5, K=3, S=2, P=0 gives 1 instead of 2; I=2, K=2, S=2, P=0 gives 0
instead of 1). There is no CONV_OUTPUT_WIDTH_FORMULA string. Every
array is computed by correct code (conv2d uses the strides correctly).

Expected grade: loses 1.1b only (matches ``mutant_conv_output_width_stride_one_formula``).
Full marks on 1.1a 1.1c 1.1d 1.2a 1.2b 1.2c 1.2d.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

A = np.array(
    [[4, 5, 2, 2, 1], [3, 3, 2, 2, 4], [4, 3, 4, 1, 1], [5, 1, 4, 1, 2], [5, 1, 3, 1, 4]],
    dtype=float,
)
B = np.array([[4, 3, 3], [5, 5, 5], [2, 4, 3]], dtype=float)


def _pair(v):
    if np.ndim(v) == 0:
        return int(v), int(v)
    h, w = v
    return int(h), int(w)


# ---------------------------------------------------------------- 1.1 Convolution

CONV_OUTPUT_SHAPE = (3, 3)


def conv_output_width(I, K, S, P):
    return I - S * (K - 1) + 2 * P


def conv2d(image, kernel, stride=1, padding=0):
    x = np.pad(np.asarray(image, dtype=float), padding)
    k = np.asarray(kernel, dtype=float)
    windows = sliding_window_view(x, k.shape)[::stride, ::stride]  # (Ho, Wo, KH, KW)
    return np.einsum("ijuv,uv->ij", windows, k)


def conv2d_input_grad(image, kernel, grad_output, stride=1, padding=0):
    H, W = np.shape(image)
    k = np.asarray(kernel, dtype=float)
    g = np.asarray(grad_output, dtype=float)
    Ho, Wo = g.shape
    KH, KW = k.shape
    grad_padded = np.zeros((H + 2 * padding, W + 2 * padding))
    # out[i, j] = sum_uv xpad[i*S + u, j*S + v] k[u, v]  =>  dxpad[i*S + u, j*S + v] += g[i, j] k[u, v]
    for u in range(KH):
        for v in range(KW):
            grad_padded[u : u + stride * Ho : stride, v : v + stride * Wo : stride] += k[u, v] * g
    return grad_padded[padding : padding + H, padding : padding + W]


CONV_OUTPUT = conv2d(A, B)
INPUT_GRADIENT = conv2d_input_grad(A, B, np.ones((3, 3)))


# ---------------------------------------------------------------- 1.2 Pooling

POOLING_MODULES = {"max": "nn.MaxPool2d", "average": "nn.AvgPool2d", "lp": "nn.LPPool2d"}


def _windows(x, kernel_size, stride):
    kh, kw = _pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    x = np.asarray(x, dtype=float)
    win = sliding_window_view(x, (kh, kw), axis=(-2, -1))  # (..., H-kh+1, W-kw+1, kh, kw)
    return win[..., ::sh, ::sw, :, :]


def max_pool2d(x, kernel_size, stride=None):
    return _windows(x, kernel_size, stride).max(axis=(-2, -1))


def avg_pool2d(x, kernel_size, stride=None):
    return _windows(x, kernel_size, stride).mean(axis=(-2, -1))


def lp_pool2d(x, p, kernel_size, stride=None):
    win = _windows(x, kernel_size, stride)
    if p == math.inf:
        return np.abs(win).max(axis=(-2, -1))
    return np.power(np.power(win, p).sum(axis=(-2, -1)), 1.0 / p)


MAXPOOL_OUTPUT = max_pool2d(CONV_OUTPUT, 2, 1)

LP_P_FOR_MAX = math.inf
LP_P_FOR_AVERAGE = 1


def avg_pool_from_lp(x, kernel_size, stride=None):
    kh, kw = _pair(kernel_size)
    return lp_pool2d(x, LP_P_FOR_AVERAGE, kernel_size, stride) / (kh * kw)
