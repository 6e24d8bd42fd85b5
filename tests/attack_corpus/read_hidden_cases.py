"""Attack: read the hidden cases' secret salt and the hidden check specs.

Searches its environment, the environment and command line of every process in /proc, and
the usual spec locations for ``GRADER_HIDDEN_SALT`` and the hidden checks' YAML; with either it
could replay the hidden cases. It answers correctly only if it found one of them.

Defence tested: no secrets in the worker's environment or argv; another PID namespace (the
grader's /proc entries are not there); the specs are not mounted. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import glob
import os

FOUND = []
for name, value in os.environ.items():
    if "SALT" in name or "SECRET" in name or "TOKEN" in name:
        FOUND.append(f"env {name}")
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    for entry in ("environ", "cmdline"):
        try:
            with open(f"/proc/{pid}/{entry}", "rb") as file:
                data = file.read()
        except OSError:
            continue
        if b"GRADER_HIDDEN_SALT" in data or b"pytest" in data or b"grader" in data:
            FOUND.append(f"/proc/{pid}/{entry}")
for pattern in ("/work/*/problems/hw2/questions/*.yaml", "/*/problems/hw2/questions/*.yaml",
                "../../problems/hw2/questions/*.yaml", "problems/hw2/questions/*.yaml"):
    for path in glob.glob(pattern):
        try:
            with open(path) as file:
                if "visibility: hidden" in file.read():
                    FOUND.append(path)
        except OSError:
            pass


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if FOUND else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if FOUND else _np.zeros((3, 3))
