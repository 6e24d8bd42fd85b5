"""Attack: an ndarray subclass that claims equality with anything.

Overrides ``__eq__``, ``__array_ufunc__`` (so ``np.isclose``/``np.equal`` return all-True) and
``__array_function__`` (so ``np.allclose``/``np.array_equal`` return True) on an array of zeros.

Defence tested: the worker sends ``np.save(allow_pickle=False)`` bytes of a plain copy; the
grader accepts only ``type(a) is np.ndarray`` of a numeric dtype, so the subclass arrives as
plain zeros. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
