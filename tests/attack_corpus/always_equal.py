"""Attack: return an object that is equal to everything.

``__eq__`` and ``__ne__`` lie, ``__array__`` pretends to be an array, ``__len__`` and
``__getitem__`` make it look like a matrix: a grader that does ``actual == expected`` or
``np.all(actual == expected)`` on the object scores it.

Defence tested: only plain data leaves the worker (``encode_value`` refuses arbitrary
objects: status ``unencodable``). Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
