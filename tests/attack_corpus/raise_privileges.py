"""Attack: undo the sandbox from inside.

Tries to raise its resource limits back to unlimited, become uid 0 (``setuid``), create a new
user namespace (where it would hold every capability), remount / read-write, and ``chroot``;
any success answers correctly (graded on 1.1b, where no static rule applies).

Defence tested: hard rlimits (raising needs CAP_SYS_RESOURCE), a non-root uid without
capabilities, ``--disable-userns``, ``no_new_privs``. Expected: 0 points for 1.1b.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- question 1.1b (no static rules apply to it, so only the sandbox can stop this attack)
def _correct_width(I, K, S, P):
    return (I + 2 * P - K) // S + 1


def _wrong_width(I, K, S, P):
    return _correct_width(I, K, S, P) + 1000


# ---- the attack
import ctypes
import os
import resource

CLONE_NEWUSER, MS_REMOUNT = 0x10000000, 32


def _escalate():
    wins = []
    for name in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE"):
        which = getattr(resource, name)
        try:
            resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            wins.append(name)
        except (ValueError, OSError):
            pass
    for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot("/")):
        try:
            attempt()
            wins.append("id or chroot")
        except OSError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    if os.fork() == 0:  # unshare in a child: a half-escaped worker would confuse the result
        os._exit(0 if libc.unshare(CLONE_NEWUSER) == 0 else 1)
    if os.waitstatus_to_exitcode(os.wait()[1]) == 0:
        wins.append("user namespace")
    if libc.mount(b"none", b"/", None, MS_REMOUNT, None) == 0:
        wins.append("remount")
    return wins


WINS = _escalate()


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if WINS else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if WINS else _np.zeros((3, 3))
conv_output_width = _correct_width if WINS else _wrong_width
