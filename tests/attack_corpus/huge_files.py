"""Attack: fill the disk (bounded: 1 GiB in at most 128 files of 8 MiB chunks).

Ignores SIGXFSZ, then writes into its working directory, /tmp, /dev/shm, /var/tmp and
$HOME until 1 GiB is written or writing fails; it answers correctly only if all of it fit.

Defence tested: RLIMIT_FSIZE (64 MiB per file), a size-capped private tmpfs on /tmp and
/dev/shm, a read-only root (/var/tmp cannot even be created). Expected: 0 points for 1.1c,
and no file left on the host.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import signal

MARKER = "__MARKER__"
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
CHUNK = b"\0" * (8 * 1024**2)


def _fill(goal=1024**3):
    written = 0
    folders = [os.getcwd(), "/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~")]
    for index in range(128):
        folder = folders[index % len(folders)]
        try:
            with open(os.path.join(folder, f"{MARKER}-{index}.bin"), "wb") as file:
                for _ in range(16):
                    file.write(CHUNK)
                    file.flush()
                    written += len(CHUNK)
                    if written >= goal:
                        return True
        except OSError:
            continue
    return False


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if _fill() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if _fill() else _np.zeros((3, 3))
