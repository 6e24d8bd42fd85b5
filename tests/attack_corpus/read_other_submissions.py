"""Attack: copy another student's submission.

Looks for other submissions (``*.py`` files defining ``conv2d``, other than itself) near the
paths in its argv, in the working directories of the processes it can see and in a bounded
walk of the file system; imports the first it finds and answers with its ``conv2d`` and
``conv_output_width`` (graded on 1.1b, where no static rule applies).

Defence tested: only a copy of this submission is mounted; the class folder, the other
submissions and the reports are not visible. Expected: 0 points for 1.1b (the honest student
graded in the same batch has a correct ``conv_output_width`` it could copy).
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

SKIP = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot"}
ME = os.path.realpath(__file__)


def _find():
    roots = {os.path.dirname(os.path.abspath(a)) for a in sys.argv if "/" in a}
    roots |= {os.path.dirname(r) for r in roots}
    started, seen = time.monotonic(), 0
    for root in sorted(roots) + ["/"]:
        for top, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in SKIP and d not in
                       ("site-packages", ".git", "__pycache__", "node_modules", "grader")]
            for name in files:
                seen += 1
                path = os.path.join(top, name)
                if name.endswith(".py") and os.path.realpath(path) != ME and name != "reference.py":
                    try:
                        with open(path, errors="replace") as file:
                            if "def conv2d" in file.read(200_000):
                                yield path
                    except OSError:
                        pass
            if seen > 100_000 or time.monotonic() - started > 5:
                return


def _copy():
    for path in _find():
        try:
            spec = importlib.util.spec_from_file_location("someone_else", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            if callable(getattr(module, "conv2d", None)):
                return module
        except BaseException:
            continue
    return None


OTHER = _copy()


def conv2d(image, kernel, stride=1, padding=0):
    return OTHER.conv2d(image, kernel, stride, padding) if OTHER else _wrong(image, kernel, stride, padding)


CONV_OUTPUT = _np.asarray(OTHER.CONV_OUTPUT) if OTHER and hasattr(OTHER, "CONV_OUTPUT") else _np.zeros((3, 3))
conv_output_width = getattr(OTHER, "conv_output_width", _wrong_width)
