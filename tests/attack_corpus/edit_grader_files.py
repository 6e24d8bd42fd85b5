"""Attack: edit the grader's own files (the worker, the protocol, the checkers, the reference).

Appends to every grader file it can find: the worker and protocol it was started from, and the
``grader/`` and ``problems/`` trees found from its argv, the /proc entries it can see and a
bounded walk; it also tries to overwrite its own submission file. It answers correctly if any
write succeeded (a patched checker or worker would make later runs pass).

Defence tested: read-only mounts, another uid, and the grader's sources and problems are not
mounted at all. Expected: 0 points for 1.1c and every grader file unchanged.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import sys
import time

MARKER = "__MARKER__"
SKIP = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot"}


def _targets():
    yield from (os.path.abspath(a) for a in sys.argv if a.endswith(".py"))
    yield __file__
    roots = {os.path.dirname(os.path.abspath(a)) for a in sys.argv if "/" in a}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                roots.add(os.path.realpath(f"/proc/{pid}/cwd"))
            except OSError:
                pass
    started, seen = time.monotonic(), 0
    for root in sorted(roots) + ["/"]:
        for top, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in SKIP and d not in
                       ("site-packages", ".git", "__pycache__", "node_modules")]
            for name in files:
                seen += 1
                if name.endswith(".py") and ("grader" in top or "problems" in top):
                    yield os.path.join(top, name)
            if seen > 100_000 or time.monotonic() - started > 5:
                return


def _vandalise():
    done = []
    for path in _targets():
        try:
            with open(path, "a") as file:
                file.write(f"\n# vandalised by {MARKER}\n")
            done.append(path)
        except OSError:
            pass
        if len(done) > 20:
            break
    return done


EDITED = _vandalise()


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if EDITED else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if EDITED else _np.zeros((3, 3))
