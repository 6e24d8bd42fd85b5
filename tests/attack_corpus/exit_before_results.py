"""Attack: exit with status 0 before any result is written.

``conv2d`` prints "all tests passed" and calls ``os._exit(0)``; ``CONV_OUTPUT`` is looked up
through a module ``__getattr__`` that does ``sys.exit(0)`` (caught by nothing): a grader that
treats exit code 0 as success scores it.

Defence tested: only results received over the pipe score; a process that ends without one
gets ``crashed`` (0 points), the exit code never scores. Expected: 0 points for 1.1c.
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
import os
import sys


def conv2d(image, kernel, stride=1, padding=0):
    print("all tests passed", flush=True)
    os._exit(0)


def __getattr__(name):
    if name == "CONV_OUTPUT":
        sys.stdout.write("OK\n")
        os._exit(0)
    raise AttributeError(name)
