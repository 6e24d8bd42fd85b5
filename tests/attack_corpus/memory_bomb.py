"""Attack: memory bomb (bounded: 4 GiB, touched page by page).

Allocates and writes 4 GiB; if that worked it answers correctly.

Defence tested: RLIMIT_AS (2 GiB by default: torch needs at least 1 GiB to import) makes the
allocation fail with MemoryError. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import mmap


def _bomb(gib=4):
    try:
        block = mmap.mmap(-1, gib * 1024**3)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        return True
    except (MemoryError, OSError, ValueError):
        return False


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if _bomb() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if _bomb() else _np.zeros((3, 3))
