"""Attack: 200 MB of output on stdout (bounded: 200 writes of 1 MiB).

Ignores SIGXFSZ and writes 200 MiB to stdout (a file or pipe the grader reads); it answers
correctly if every byte was accepted (then the grader's disk or memory took it all).

Defence tested: stdout goes to a file the parent opened, capped by RLIMIT_FSIZE (64 MiB) for
the writer; the parent keeps only the last 64 KiB. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import signal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
BLOCK = b"flood " * (1024**2 // 6) + b"\n"


def _flood(blocks=200):
    for _ in range(blocks):
        try:
            view = memoryview(BLOCK)
            while view:
                view = view[os.write(1, view):]
        except OSError:
            return False
    return True


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if _flood() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _np.zeros((3, 3))
