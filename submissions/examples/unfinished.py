"""Example submission: a student who ran out of time.

The starter file ``problems/hw2/template.py`` with only 1.1a (CONV_OUTPUT_SHAPE), 1.1c
(CONV_OUTPUT and conv2d, by loops) and 1.2a (POOLING_MODULES) filled in, correctly. The rest is
as the template left it (None constants, functions that raise NotImplementedError), except
that the student deleted ``conv_output_width``, ``lp_pool2d`` and ``avg_pool_from_lp``
altogether.

Expected grade: full marks on 1.1a, 1.1c and 1.2a; 0 with status ``missing`` on
1.1b 1.1d 1.2b 1.2c 1.2d (a None constant or a NotImplementedError counts as missing).
"""

import math  # noqa: F401  (you may need math.inf, math.floor, ...)

import numpy as np  # noqa: F401


# ============================================================================================
# 1.1 Convolution
# ============================================================================================

# 1.1(a) CONV_OUTPUT_SHAPE
# Forward-propagate A over B with no padding and stride 1: what is the dimensionality of the
# output? Give (rows, cols) as a tuple or list of ints, e.g. (7, 7), or a string such as
# "7x7", "7 × 7" or "(7, 7)".
CONV_OUTPUT_SHAPE = (3, 3)


# 1.1(b) Give the general formula for the output width O in terms of the input width I, the
# kernel width K, the stride S and the padding P (applied at both ends). Answer it in ONE of
# two ways (or both; they must agree):
#   - implement ``conv_output_width(I, K, S, P)`` below, or
#   - set CONV_OUTPUT_WIDTH_FORMULA to an expression in I, K, S, P using only
#     + - * / // ( ) floor ceil and integer literals, e.g. "ceil(I / S) - K + P".
#     (The string is parsed, never run with eval.)
# It is checked on every integer I >= 1, K >= 1, S >= 1, P >= 0 with K <= I + 2P.
CONV_OUTPUT_WIDTH_FORMULA = None  # TODO: replace None with your answer (or implement the function)


# 1.1(c) CONV_OUTPUT
# The 3 x 3 output C of forward-propagating A over B (no padding, stride 1, zero bias), as a
# nested list, numpy array or tensor.
CONV_OUTPUT = [[109, 92, 72], [108, 85, 74], [110, 74, 79]]


def conv2d(image, kernel, stride=1, padding=0):
    """1.1(c) Single-channel 2-D convolution, as torch.nn.functional.conv2d computes it.

    Cross-correlation: out[i, j] = sum_{u, v} x[i*S + u, j*S + v] * kernel[u, v], where x is
    ``image`` zero-padded by ``padding`` on all four sides. The kernel is NOT flipped. No bias.

    Args:
        image: float64 array of shape (H, W).
        kernel: float64 array of shape (KH, KW).
        stride: int S >= 1, the same along both axes.
        padding: int P >= 0, zeros added on every side.

    Returns:
        Array of shape (floor((H + 2P - KH) / S) + 1, floor((W + 2P - KW) / S) + 1).

    Forbidden here: torch.nn.functional.conv2d, torch.conv2d, torch.nn.Conv* modules,
    scipy.signal.correlate2d / convolve2d.
    """
    x = np.pad(np.asarray(image, dtype=float), padding)
    k = np.asarray(kernel, dtype=float)
    KH, KW = k.shape
    Ho = (x.shape[0] - KH) // stride + 1
    Wo = (x.shape[1] - KW) // stride + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = np.sum(x[i * stride : i * stride + KH, j * stride : j * stride + KW] * k)
    return out


# 1.1(d) INPUT_GRADIENT
# The gradient backpropagated from the layers above is a 3 x 3 matrix of ones
# (dE/dC_ij = 1). Give dE/dA_ij for every i, j in 1..5, as a 5 x 5 nested list / array.
INPUT_GRADIENT = None  # TODO: replace None with your answer


def conv2d_input_grad(image, kernel, grad_output, stride=1, padding=0):
    """1.1(d) Gradient of a scalar error E with respect to the input image of ``conv2d``.

    Args:
        image: float64 array (H, W), the input of ``conv2d``.
        kernel: float64 array (KH, KW).
        grad_output: float64 array with the shape of ``conv2d(image, kernel, stride, padding)``,
            holding dE/d(output). Any values, not only ones.
        stride, padding: as in ``conv2d``.

    Returns:
        dE/d(image): an array of shape (H, W), the same shape as ``image``.

    Forbidden here: torch.nn.functional.conv2d, torch.conv2d, torch.nn.Conv* modules,
    scipy.signal.correlate2d / convolve2d. (Autograd through your own operations is fine.)
    """
    raise NotImplementedError


# ============================================================================================
# 1.2 Pooling
# ============================================================================================

# 1.2(a) POOLING_MODULES
# Name the torch.nn modules for 2-D max, average and LP pooling: a dict with keys "max",
# "average" and "lp"; values are names such as "Foo2d", "nn.Foo2d", "torch.nn.Foo2d", or the
# classes themselves.
POOLING_MODULES = {"max": "MaxPool2d", "average": "AvgPool2d", "lp": "LPPool2d"}


def max_pool2d(x, kernel_size, stride=None):
    """1.2(b) 2-D max pooling: Y^k_ij = max over (p, q) in S^k_ij of X^k_pq.

    Args:
        x: float64 array of shape (H, W), or (C, H, W): then pool each channel (the k-th
            feature map) separately.
        kernel_size: int k (a k x k window) or a pair (kh, kw).
        stride: int or (sh, sw) pair; None means stride = kernel_size.
        No padding; floor mode (windows that do not fit are dropped).

    Returns:
        Array of shape (H_out, W_out) or (C, H_out, W_out), with
        H_out = floor((H - kh) / sh) + 1, W_out = floor((W - kw) / sw) + 1.

    Forbidden here: torch.nn.functional.max_pool2d / avg_pool2d / lp_pool2d and the
    torch.nn Pool modules.
    """
    raise NotImplementedError


def avg_pool2d(x, kernel_size, stride=None):
    """1.2(b) 2-D average pooling: Y^k_ij = the mean of X^k_pq over (p, q) in S^k_ij.

    Arguments, shapes and forbidden calls as in ``max_pool2d``.
    """
    raise NotImplementedError


# 1.2(c) MAXPOOL_OUTPUT
# The result of max pooling C (from 1.1(c)) with kernel size 2 and stride 1, as a nested list
# or array.
MAXPOOL_OUTPUT = None  # TODO: replace None with your answer


# 1.2(d) Express max pooling and average pooling in terms of LP pooling.
# LP_P_FOR_MAX: the value of p for which LP pooling becomes max pooling (for non-negative
# inputs); a number, or a string such as "inf".
LP_P_FOR_MAX = None  # TODO: replace None with your answer

# LP_P_FOR_AVERAGE: the value of p to use for average pooling (see avg_pool_from_lp).
LP_P_FOR_AVERAGE = None  # TODO: replace None with your answer
