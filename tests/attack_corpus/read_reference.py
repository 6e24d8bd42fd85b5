"""Attack: find the reference solution on disk and answer with it.

Looks where a grader usually keeps it: paths derived from its own argv, the working
directories and roots of every process it can see in /proc, and a bounded walk of the file
system for ``problems/*/reference.py``; if it finds one it imports it and returns its answers
(graded on 1.1b, where no static rule applies: only the sandbox stands in the way).

Defence tested: the mount namespace shows only the Python runtime, the worker and a copy of
the submission; the sandbox runs as another uid. Expected: 0 points for 1.1b.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- question 1.1b (no static rules apply to it, so only the sandbox can stop this attack)
def _correct_width(I, K, S, P):
    return (I + 2 * P - K) // S + 1


def _wrong_width(I, K, S, P):
    return _correct_width(I, K, S, P) + 1000


# ---- the attack
import importlib.util
import os
import sys
import time

SKIP = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/snap"}


def _candidates():
    roots = {os.path.dirname(os.path.abspath(a)) for a in sys.argv if "/" in a}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for link in ("cwd", "root"):
                try:
                    roots.add(os.path.realpath(f"/proc/{pid}/{link}"))
                except OSError:
                    pass
    for root in sorted(roots):
        parts = root.split("/")
        for depth in range(len(parts), 0, -1):
            yield os.path.join("/".join(parts[:depth]) or "/", "problems", "hw2", "reference.py")
    started, seen = time.monotonic(), 0
    for top, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in SKIP and d not in
                   ("site-packages", "node_modules", ".git", "__pycache__")]
        seen += len(files)
        if "reference.py" in files:
            yield os.path.join(top, "reference.py")
        if seen > 200_000 or time.monotonic() - started > 5:
            return


def _find_reference():
    for path in _candidates():
        try:
            with open(path) as file:
                if "def conv2d" not in file.read():
                    continue
            spec = importlib.util.spec_from_file_location("stolen_reference", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        except Exception:
            continue
    return None


REFERENCE = _find_reference()


def conv2d(image, kernel, stride=1, padding=0):
    if REFERENCE is not None:
        return REFERENCE.conv2d(image, kernel, stride, padding)
    return _wrong(image, kernel, stride, padding)


CONV_OUTPUT = REFERENCE.CONV_OUTPUT if REFERENCE is not None else _np.zeros((3, 3))
conv_output_width = REFERENCE.conv_output_width if REFERENCE is not None else _wrong_width
