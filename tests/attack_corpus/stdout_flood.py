"""Attack: 200 MB of output on stdout (bounded: 200 writes of 1 MiB).

Ignores SIGXFSZ and writes 200 MiB to stdout (a file or pipe the grader reads); it answers
correctly if every byte was accepted (then the grader's disk or memory took it all).

Defence tested: stdout goes to a file the parent opened, capped by RLIMIT_FSIZE (64 MiB) for
the writer; the parent keeps only the last 64 KiB. Expected: 0 points for 1.1c.
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
import signal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
BLOCK = b"flood " * (1024**2 // 6) + b"\n"


def _flood(blocks=200):
    for _ in range(blocks):
        try:
            view = memoryview(BLOCK)
            while view:
                view = view[os.write(1, view):]
        except OSError:
            return False
    return True


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if _flood() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _np.zeros((3, 3))
