"""Attack: an ndarray subclass that claims equality with anything.

Overrides ``__eq__``, ``__array_ufunc__`` (so ``np.isclose``/``np.equal`` return all-True) and
``__array_function__`` (so ``np.allclose``/``np.array_equal`` return True) on an array of zeros.

Defence tested: the worker sends ``np.save(allow_pickle=False)`` bytes of a plain copy; the
grader accepts only ``type(a) is np.ndarray`` of a numeric dtype, so the subclass arrives as
plain zeros. Expected: 0 points for 1.1c.
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
import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.shape(inputs[0]), bool)

    def __array_function__(self, func, types, args, kwargs):
        return True


def conv2d(image, kernel, stride=1, padding=0):
    return _wrong(image, kernel, stride, padding).view(Liar)


CONV_OUTPUT = np.zeros((3, 3)).view(Liar)
