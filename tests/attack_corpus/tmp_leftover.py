"""Attack: leave files in /tmp, /dev/shm and $HOME for the next student, and read the last one's.

Graded twice in a row as two students: each looks for the files an earlier run left (it would
pass answers along, or poison a shared cache), then leaves its own.

Defence tested: a private, size-capped tmpfs on /tmp and /dev/shm per worker, a read-only root
(/var/tmp cannot be created), HOME inside the private /tmp. Expected: 0 points for 1.1c for
both, and no file with the marker left on the host.
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
import glob
import os

MARKER = "__MARKER__"
PLACES = ["/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"), os.getcwd()]

FOUND = [p for place in PLACES for p in glob.glob(os.path.join(place, f"{MARKER}-leftover-*"))]
for place in PLACES:
    try:
        with open(os.path.join(place, f"{MARKER}-leftover-{os.getpid()}"), "w") as file:
            file.write("answers for the next student")
    except OSError:
        pass


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if FOUND else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if FOUND else _np.zeros((3, 3))
