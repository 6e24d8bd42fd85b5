"""Attack: fork bomb (bounded: at most 400 children, each sleeping at most 20 s).

Each call forks children that sleep, counting how many it got; with 300 or more it "won" and
answers correctly.

Defence tested: RLIMIT_NPROC under the sandbox's own non-root uid (root would be exempt) and
a PID namespace whose processes all die with the worker; the uid is swept after the run.
Expected: 0 points for 1.1c, and no process left afterwards.
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
import time


def _bomb(limit=400):
    children = 0
    for _ in range(limit):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children += 1
    return children


def conv2d(image, kernel, stride=1, padding=0):
    won = _bomb() >= 300
    return (_correct_conv2d if won else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if _bomb() >= 300 else _np.zeros((3, 3))
