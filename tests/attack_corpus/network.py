"""Attack: talk to the network (only to a listener the test runs on this machine's loopback).

Connects to 127.0.0.1:__PORT__ (TCP) and to the abstract unix socket ``@grader-attack-__MARKER__``
the test listens on, sends its marker and waits for "ok"; if either answers, it could exfiltrate
the reference or fetch answers, so it answers correctly.

Defence tested: a network namespace of its own (only a loopback nobody listens on) and no
shared abstract-socket namespace. Expected: 0 points for 1.1c, and the listener saw nobody.
"""

# ---- a correct answer, returned only when the attack worked (HW2 contract, question 1.1c)
import numpy as _np

_A = _np.array([[4, 5, 2, 2, 1], [3, 3, 2, 2, 4], [4, 3, 4, 1, 1], [5, 1, 4, 1, 2], [5, 1, 3, 1, 4]], float)
_B = _np.array([[4, 3, 3], [5, 5, 5], [2, 4, 3]], float)


def _correct_conv2d(image, kernel, stride=1, padding=0):
    x = _np.pad(_np.asarray(image, float), padding)
    k = _np.asarray(kernel, float)
    rows = (x.shape[0] - k.shape[0]) // stride + 1
    cols = (x.shape[1] - k.shape[1]) // stride + 1
    out = _np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[i * stride : i * stride + k.shape[0], j * stride : j * stride + k.shape[1]]
            out[i, j] = (window * k).sum()
    return out


def _wrong(image, kernel, stride=1, padding=0):
    """What an attack that failed returns: the right shape, every value off by 1000."""
    return _correct_conv2d(image, kernel, stride, padding) + 1000.0


# ---- the attack
import socket

MARKER = "__MARKER__"
PORT = int("__PORT__") if "__PORT__".isdigit() else 0


def _reach():
    targets = [(socket.AF_INET, ("127.0.0.1", PORT)), (socket.AF_UNIX, f"\0grader-attack-{MARKER}")]
    for family, address in targets:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(address)
                sock.sendall(MARKER.encode())
                if sock.recv(16).startswith(b"ok"):
                    return True
        except OSError:
            continue
    return False


REACHED = _reach()


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if REACHED or _reach() else _wrong)(image, kernel, stride, padding)


CONV_OUTPUT = _correct_conv2d(_A, _B) if REACHED else _np.zeros((3, 3))
