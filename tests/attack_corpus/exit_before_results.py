"""Attack: exit with status 0 before any result is written.

``conv2d`` prints "all tests passed" and calls ``os._exit(0)``; ``CONV_OUTPUT`` is looked up
through a module ``__getattr__`` that does ``sys.exit(0)`` (caught by nothing): a grader that
treats exit code 0 as success scores it.

Defence tested: only results received over the pipe score; a process that ends without one
gets ``crashed`` (0 points), the exit code never scores. Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import os
import sys


def conv2d(image, kernel, stride=1, padding=0):
    print("all tests passed", flush=True)
    os._exit(0)


def __getattr__(name):
    if name == "CONV_OUTPUT":
        sys.stdout.write("OK\n")
        os._exit(0)
    raise AttributeError(name)
