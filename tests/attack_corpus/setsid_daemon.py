"""Attack: a daemon (double fork + setsid) meant to outlive its worker (bounded: 25 s).

At import, each worker asks whether a daemon left by an *earlier* worker still answers on the
abstract unix socket ``@grader-daemon-__MARKER__``; if none does, it starts one (a fresh
interpreter whose command line carries the marker), then ``CONV_OUTPUT`` crashes the worker so
that the grader starts a new one. If the daemon survived that, the new worker answers correctly.

Defence tested: a PID namespace per worker (the daemon dies with it, whatever its session),
a network namespace per worker, and the uid sweep after each worker and run.
Expected: 0 points for 1.1c, and no process with the marker left.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import socket
import subprocess
import sys
import time

MARKER = "__MARKER__"
ADDRESS = f"\0grader-daemon-{MARKER}"
DAEMON = f"""
import socket, time
server = socket.socket(socket.AF_UNIX)
server.bind({ADDRESS!r})
server.listen(5)
server.settimeout(1)
deadline = time.monotonic() + 25
while time.monotonic() < deadline:
    try:
        conn, _ = server.accept()
        conn.sendall(b"alive")
        conn.close()
    except OSError:
        pass
"""


def _daemon_alive():
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(1)
            sock.connect(ADDRESS)
            return sock.recv(8) == b"alive"
    except OSError:
        return False


def _start_daemon():
    if os.fork() == 0:  # first child: new session, then fork again and leave
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(sys.executable, [sys.executable, "-c", DAEMON, MARKER])
        os._exit(0)
    os.wait()
    deadline = time.monotonic() + 10  # crash only once the daemon listens, or the next worker asks too early
    while not _daemon_alive() and time.monotonic() < deadline:
        time.sleep(0.02)


SURVIVED = _daemon_alive()
if not SURVIVED:
    _start_daemon()


def conv2d(image, kernel, stride=1, padding=0):
    return (_correct_conv2d if SURVIVED else _wrong)(image, kernel, stride, padding)


def __getattr__(name):
    if name == "CONV_OUTPUT":
        if SURVIVED:
            return _correct_conv2d(_A, _B)
        os._exit(1)  # end this worker: the grader starts a new one, which asks the daemon
    raise AttributeError(name)
