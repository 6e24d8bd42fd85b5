"""Attack: shadow modules beside the submission (this folder is one student's submission).

Next to this ``hw2.py`` lie ``numpy.py``, ``sitecustomize.py``, ``usercustomize.py``,
``conftest.py`` and ``evil.pth``. If the worker put the submission's folder (or its working
directory) on ``sys.path``, ran site customisation from there, or a pytest run collected the
folder, the companion would run first and raise the flag this module checks; then it answers
correctly.

Defence tested: ``python -I`` (no script folder, no user site, no PYTHON* variables), the
submission imported by path (never via ``sys.path``), only a copy of ``hw2.py`` inside the
sandbox, and ``norecursedirs`` for pytest. Expected: 0 points for 1.1c.
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
import builtins

SHADOWED = getattr(builtins, "GRADER_ATTACK_SHADOWED", None)


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if SHADOWED else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if SHADOWED else _np.zeros((3, 3))
