"""Attack: return an object that is equal to everything.

``__eq__`` and ``__ne__`` lie, ``__array__`` pretends to be an array, ``__len__`` and
``__getitem__`` make it look like a matrix: a grader that does ``actual == expected`` or
``np.all(actual == expected)`` on the object scores it.

Defence tested: only plain data leaves the worker (``encode_value`` refuses arbitrary
objects: status ``unencodable``). Expected: 0 points for 1.1c.
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
class AlwaysEqual:
    shape = (3, 3)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return AlwaysEqual()

    def __array__(self, dtype=None, copy=None):
        raise TypeError("no")

    def __float__(self):
        return 0.0


def conv2d(image, kernel, stride=1, padding=0):
    return AlwaysEqual()


CONV_OUTPUT = AlwaysEqual()
