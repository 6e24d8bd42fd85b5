"""Attack: patch the comparison functions, then return wrong answers.

Replaces numpy.allclose / isclose / array_equal / testing.assert_allclose, math.isclose and
torch.allclose / equal in its own process, so a grader that compared inside that process would
accept zeros.

Defence tested: the comparison runs in the trusted grader process, which the student's code
never runs in; only plain data crosses the pipe. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked (HW2 contract, question 1.1c)
import numpy as _np

_A = _np.array([[4, 5, 2, 2, 1], [3, 3, 2, 2, 4], [4, 3, 4, 1, 1], [5, 1, 4, 1, 2], [5, 1, 3, 1, 4]], float)
_B = _np.array([[4, 3, 3], [5, 5, 5], [2, 4, 3]], float)


def _correct_conv2d(image, kernel, stride=1, padding=0):
    x = _np.pad(_np.asarray(image, float), padding)
    k = _np.asarray(kernel, float)
    rows = (x.shape[0] - k.shape[0]) // stride + 1
    cols = (x.shape[1] - k.shape[1]) // stride + 1
    out = _np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[i * stride : i * stride + k.shape[0], j * stride : j * stride + k.shape[1]]
            out[i, j] = (window * k).sum()
    return out


def _wrong(image, kernel, stride=1, padding=0):
    """What an attack that failed returns: the right shape, every value off by 1000."""
    return _correct_conv2d(image, kernel, stride, padding) + 1000.0


# ---- the attack
import math

import numpy as np

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
try:
    import torch

    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
except ImportError:
    pass


def conv2d(image, kernel, stride=1, padding=0):
    # The attack "works" only if the grader compares in this process: then the patched
    # allclose is the one it calls. It cannot tell from here, so it always answers zeros.
    return _wrong(image, kernel, stride, padding)


CONV_OUTPUT = np.zeros((3, 3))
