"""Attack: memory bomb (bounded: 4 GiB, touched page by page).

Allocates and writes 4 GiB; if that worked it answers correctly.

Defence tested: RLIMIT_AS (2 GiB by default: torch needs at least 1 GiB to import) makes the
allocation fail with MemoryError. Expected: 0 points for 1.1c.
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
import mmap


def _bomb(gib=4):
    try:
        block = mmap.mmap(-1, gib * 1024**3)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        return True
    except (MemoryError, OSError, ValueError):
        return False


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if _bomb() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if _bomb() else _np.zeros((3, 3))
