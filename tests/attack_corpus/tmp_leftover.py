"""Attack: leave files in /tmp, /dev/shm and $HOME for the next student, and read the last one's.

Graded twice in a row as two students: each looks for the files an earlier run left (it would
pass answers along, or poison a shared cache), then leaves its own.

Defence tested: a private, size-capped tmpfs on /tmp and /dev/shm per worker, a read-only root
(/var/tmp cannot be created), HOME inside the private /tmp. Expected: 0 points for 1.1c for
both, and no file with the marker left on the host.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
