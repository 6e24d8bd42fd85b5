"""Attack: print fake results on stdout and stderr.

Writes a forged protocol frame (4-byte length + JSON with ``"status": "ok"`` and the correct
Table 1 answer), a JSON score report and "Score: 3/3" to file descriptors 1 and 2, then returns
nothing useful.

Defence tested: results travel only over the private response pipe; stdout and stderr go to
capped files the grader reads as text for the report, never as results.
Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
