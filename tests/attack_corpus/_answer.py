"""Not an attack: the correct 1.1c answer every attack returns only when it worked.

tests/test_attacks.py inserts it in place of an attack's "a correct answer" line when it plants
the attack in a class folder (a submission is one file: it cannot import this one).
"""

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
