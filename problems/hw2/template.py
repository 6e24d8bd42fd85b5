"""HW2, Part 1: Fundamentals (convolution and pooling) -- starter module.

Fill in every name below and hand in this file as ``hw2.py``. A name you leave as it is
(``None`` or ``raise NotImplementedError``) or delete is graded as missing (0 points for that
part); everything else is still graded.

Table 1 (used by 1.1 and 1.2(c)):

    A = [[4, 5, 2, 2, 1],        B = [[4, 3, 3],
         [3, 3, 2, 2, 4],             [5, 5, 5],
         [4, 3, 4, 1, 1],             [2, 4, 3]]
         [5, 1, 4, 1, 2],
         [5, 1, 3, 1, 4]]

"Convolution" means what ``torch.nn.functional.conv2d`` computes: cross-correlation (the
kernel is NOT flipped), bias zero.

Rules:
- Functions receive float64 numpy arrays. Return any array-like (numpy array, nested lists,
  torch tensor; any numeric dtype); its shape must be exactly right.
- Inside ``conv2d``, ``conv2d_input_grad``, ``max_pool2d``, ``avg_pool2d`` and ``lp_pool2d`` you
  may NOT call the library's ready-made convolution or pooling:
  ``torch.nn.functional.conv2d``, ``torch.conv2d``, ``torch.nn.functional.max_pool2d`` /
  ``avg_pool2d`` / ``lp_pool2d``, the ``torch.nn`` Conv/Pool modules,
  ``scipy.signal.correlate2d`` / ``convolve2d``. A function that calls one scores 0.
  Everything else is fair: loops, ``np.einsum``, stride tricks, FFT,
  ``torch.nn.functional.unfold``, autograd through your own operations.
- ``avg_pool_from_lp`` must call your own ``lp_pool2d``.
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
CONV_OUTPUT_SHAPE = None  # TODO: replace None with your answer


# 1.1(b) Give the general formula for the output width O in terms of the input width I, the
# kernel width K, the stride S and the padding P (applied at both ends). Answer it in ONE of
# two ways (or both; they must agree):
#   - implement ``conv_output_width(I, K, S, P)`` below, or
#   - set CONV_OUTPUT_WIDTH_FORMULA to an expression in I, K, S, P using only
#     + - * / // ( ) floor ceil and integer literals, e.g. "ceil(I / S) - K + P".
#     (The string is parsed, never run with eval.)
# It is checked on every integer I >= 1, K >= 1, S >= 1, P >= 0 with K <= I + 2P.
CONV_OUTPUT_WIDTH_FORMULA = None  # TODO: replace None with your answer (or implement the function)


def conv_output_width(I, K, S, P):
    """1.1(b) Output width of a convolution.

    Args:
        I: input width (int >= 1).
        K: kernel width (int >= 1, K <= I + 2P).
        S: stride (int >= 1).
        P: zero padding added at BOTH ends (int >= 0).

    Returns:
        The output width O as an int. The same formula gives the height.
        It must agree with your answer to 1.1(a).
    """
    raise NotImplementedError


# 1.1(c) CONV_OUTPUT
# The 3 x 3 output C of forward-propagating A over B (no padding, stride 1, zero bias), as a
# nested list, numpy array or tensor.
CONV_OUTPUT = None  # TODO: replace None with your answer


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
    raise NotImplementedError


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
POOLING_MODULES = None  # TODO: replace None with your answer


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


def lp_pool2d(x, p, kernel_size, stride=None):
    """1.2(b) 2-D LP (power-average) pooling, as torch computes it:
    Y^k_ij = (sum over (a, b) in S^k_ij of (X^k_ab)^p)^(1/p).

    Args:
        x, kernel_size, stride: as in ``max_pool2d``.
        p: the power (a number > 0).

    Returns and forbidden calls as in ``max_pool2d``.
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


def avg_pool_from_lp(x, kernel_size, stride=None):
    """1.2(d) Average pooling computed from LP pooling.

    Must equal ``avg_pool2d(x, kernel_size, stride)`` and must call your own ``lp_pool2d``
    (checked on the source). Arguments and shapes as in ``max_pool2d``.
    """
    raise NotImplementedError
