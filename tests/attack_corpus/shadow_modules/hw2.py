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

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import builtins

SHADOWED = getattr(builtins, "GRADER_ATTACK_SHADOWED", None)


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if SHADOWED else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if SHADOWED else _np.zeros((3, 3))
