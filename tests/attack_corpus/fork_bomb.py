"""Attack: fork bomb (bounded: at most 400 children, each sleeping at most 20 s).

Each call forks children that sleep, counting how many it got; with 300 or more it "won" and
answers correctly.

Defence tested: RLIMIT_NPROC under the sandbox's own non-root uid (root would be exempt) and
a PID namespace whose processes all die with the worker; the uid is swept after the run.
Expected: 0 points for 1.1c, and no process left afterwards.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import time


def _bomb(limit=400):
    children = 0
    for _ in range(limit):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children += 1
    return children


def conv2d(image, kernel, stride=1, padding=0):
    won = _bomb() >= 300
    return (_correct_conv2d if won else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if _bomb() >= 300 else _np.zeros((3, 3))
