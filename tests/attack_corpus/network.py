"""Attack: talk to the network (only to a listener the test runs on this machine's loopback).

Connects to 127.0.0.1:__PORT__ (TCP) and to the abstract unix socket ``@grader-attack-__MARKER__``
the test listens on, sends its marker and waits for "ok"; if either answers, it could exfiltrate
the reference or fetch answers, so it answers correctly.

Defence tested: a network namespace of its own (only a loopback nobody listens on) and no
shared abstract-socket namespace. Expected: 0 points for 1.1c, and the listener saw nobody.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


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
