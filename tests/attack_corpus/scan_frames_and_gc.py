"""Attack: read the expected values out of memory.

At import, walks the caller frames (``sys._getframe``) and every object the garbage collector
tracks (``gc.get_objects()``, with the values of every dict and list), looking for a float
array of the answer's shape that it did not make: in a grader that imports student code in
its own process, or forks the worker from a process that computed the expected outputs, that
is the reference's ``MAXPOOL_OUTPUT`` (graded on 1.2c, a value question no static rule covers).

Defence tested: expected outputs never exist in the worker, nor in a process it was forked
from (a fresh interpreter started by exec). Expected: 0 points for 1.2c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import gc
import sys

import numpy as np

MINE = {id(_A), id(_B)}


def _plausible(obj, shape):
    return type(obj) is np.ndarray and obj.shape == shape and obj.dtype.kind == "f" and id(obj) not in MINE


def _steal(shape):
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if _plausible(value, shape):
                return value
        frame = frame.f_back
    for obj in gc.get_objects():
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else (obj,)
        try:
            for value in list(values):
                if _plausible(value, shape):
                    return value
        except Exception:
            continue
    return None


STOLEN = _steal((2, 2))
MAXPOOL_OUTPUT = STOLEN if STOLEN is not None else np.full((2, 2), 1000.0)
