"""Attack: an infinite loop that ignores every catchable signal (bounded: 40 s).

Ignores SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGXCPU, SIGUSR1/2 and cancels any alarm, then spins
for 40 s of wall clock before answering correctly: a grader that times out from inside the
process (``signal.alarm``), or waits for it politely, eventually scores it.

Defence tested: a wall-clock SIGKILL from the parent (never a timeout from inside) and a hard
RLIMIT_CPU (SIGKILL, not SIGXCPU). Expected: ``timeout``, 0 points for 1.1c.
"""
import signal
import time

for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGXCPU", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGPROF"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)


def _spin(seconds=40):
    signal.alarm(0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def conv2d(image, kernel, stride=1, padding=0):
    _spin()
    return _correct_conv2d(image, kernel, stride, padding)


def __getattr__(name):
    if name == "CONV_OUTPUT":
        _spin()
        return _correct_conv2d(_A, _B)
    raise AttributeError(name)
