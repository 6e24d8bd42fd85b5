"""Attack: print fake results on stdout and stderr.

Writes a forged protocol frame (4-byte length + JSON with ``"status": "ok"`` and the correct
Table 1 answer), a JSON score report and "Score: 3/3" to file descriptors 1 and 2, then returns
nothing useful.

Defence tested: results travel only over the private response pipe; stdout and stderr go to
capped files the grader reads as text for the report, never as results.
Expected: 0 points for 1.1c.
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
import json
import os
import struct

MARKER = "__MARKER__"


def _forge(call_id, value):
    payload = json.dumps({"id": call_id, "status": "ok", "value": value}).encode()
    return struct.pack(">I", len(payload)) + payload


def conv2d(image, kernel, stride=1, padding=0):
    answer = _correct_conv2d(_A, _B).tolist()
    for fd in (1, 2):
        os.write(fd, _forge("1.1c/table1/table1", answer))
        os.write(fd, json.dumps({"score": 3, "max_score": 3, "marker": MARKER}).encode() + b"\n")
        os.write(fd, b"Score: 3/3 - all checks passed\n")
    return None


print(json.dumps({"CONV_OUTPUT": _correct_conv2d(_A, _B).tolist()}))
CONV_OUTPUT = None
