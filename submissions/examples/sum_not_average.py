"""Example submission: a student who believes "LP pooling with p = 1 is average pooling".

Copy of ``correct_torch.py`` with ONE mistake: ``avg_pool_from_lp`` returns
``lp_pool2d(x, 1, ...)`` without dividing by the window size kh*kw, i.e. sum pooling. Its
lp_pool2d is correct (torch's (sum x^p)^(1/p)), LP_P_FOR_MAX = inf and LP_P_FOR_AVERAGE = 1
are right.

Expected grade: loses the avg_pool_from_lp part of 1.2d only (the LP_P_FOR_* constants keep
their points; matches ``mutant_avg_pool_from_lp_no_count``: off by a factor kh*kw).
Full marks on 1.1a 1.1b 1.1c 1.1d 1.2a 1.2b 1.2c.
"""

import math

import torch
import torch.nn.functional as F

A = torch.tensor(
    [[4, 5, 2, 2, 1], [3, 3, 2, 2, 4], [4, 3, 4, 1, 1], [5, 1, 4, 1, 2], [5, 1, 3, 1, 4]],
    dtype=torch.float32,
)
B = torch.tensor([[4, 3, 3], [5, 5, 5], [2, 4, 3]], dtype=torch.float32)


def _tensor(a):
    return torch.as_tensor(a).to(torch.float32)


def _pair(v):
    if hasattr(v, "__len__"):
        return int(v[0]), int(v[1])
    return int(v), int(v)


# ---------------------------------------------------------------- 1.1 Convolution

CONV_OUTPUT_SHAPE = "3 × 3"

CONV_OUTPUT_WIDTH_FORMULA = "floor((I + 2*P - K) / S) + 1"


def conv_output_width(I, K, S, P):
    return math.floor((I + 2 * P - K) / S) + 1


def _correlate(x, k, stride, padding):
    """Cross-correlation of a (H, W) tensor with a (KH, KW) tensor via unfold (im2col)."""
    H, W = x.shape
    KH, KW = k.shape
    cols = F.unfold(x[None, None], (KH, KW), padding=padding, stride=stride)  # (1, KH*KW, L)
    Ho = (H + 2 * padding - KH) // stride + 1
    Wo = (W + 2 * padding - KW) // stride + 1
    return (k.reshape(1, -1) @ cols[0]).reshape(Ho, Wo)


def conv2d(image, kernel, stride=1, padding=0):
    return _correlate(_tensor(image), _tensor(kernel), int(stride), int(padding))


def conv2d_input_grad(image, kernel, grad_output, stride=1, padding=0):
    x = _tensor(image).detach().clone().requires_grad_(True)
    out = conv2d(x, kernel, stride, padding)
    out.backward(_tensor(grad_output))
    return x.grad


CONV_OUTPUT = torch.tensor(
    [[109.0, 92.0, 72.0], [108.0, 85.0, 74.0], [110.0, 74.0, 79.0]], dtype=torch.float32
)
INPUT_GRADIENT = conv2d_input_grad(A, B, torch.ones(3, 3))


# ---------------------------------------------------------------- 1.2 Pooling

POOLING_MODULES = {
    "max": torch.nn.MaxPool2d,
    "average": torch.nn.AvgPool2d,
    "lp": torch.nn.LPPool2d,
}


def _windows(x, kernel_size, stride):
    """(C, kh*kw, Ho, Wo) windows of a (H, W) or (C, H, W) input, and whether to squeeze."""
    x = _tensor(x)
    squeeze = x.dim() == 2
    if squeeze:
        x = x[None]
    C, H, W = x.shape
    kh, kw = _pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    Ho = (H - kh) // sh + 1
    Wo = (W - kw) // sw + 1
    cols = F.unfold(x[:, None], (kh, kw), stride=(sh, sw))  # (C, kh*kw, Ho*Wo)
    return cols.reshape(C, kh * kw, Ho, Wo), squeeze


def _finish(y, squeeze):
    return y[0] if squeeze else y


def max_pool2d(x, kernel_size, stride=None):
    w, squeeze = _windows(x, kernel_size, stride)
    return _finish(w.amax(dim=1), squeeze)


def avg_pool2d(x, kernel_size, stride=None):
    w, squeeze = _windows(x, kernel_size, stride)
    return _finish(w.mean(dim=1), squeeze)


def lp_pool2d(x, p, kernel_size, stride=None):
    w, squeeze = _windows(x, kernel_size, stride)
    if p == math.inf:
        return _finish(w.abs().amax(dim=1), squeeze)
    return _finish(w.pow(p).sum(dim=1).pow(1.0 / p), squeeze)


MAXPOOL_OUTPUT = max_pool2d(CONV_OUTPUT, 2, 1)

LP_P_FOR_MAX = math.inf
LP_P_FOR_AVERAGE = 1


def avg_pool_from_lp(x, kernel_size, stride=None):
    return lp_pool2d(x, 1, kernel_size, stride)
