"""Attack: patch the comparison functions, then return wrong answers.

Replaces numpy.allclose / isclose / array_equal / testing.assert_allclose, math.isclose and
torch.allclose / equal in its own process, so a grader that compared inside that process would
accept zeros.

Defence tested: the comparison runs in the trusted grader process, which the student's code
never runs in; only plain data crosses the pipe. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
