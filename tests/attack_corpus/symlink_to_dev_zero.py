"""Attack: a submission that is a symbolic link to /dev/zero (denial of service on the grader).

The test plants ``NAME.py -> /dev/zero`` (``LINK_TARGET``): a grader that reads the source
with ``read_bytes()`` reads forever and fills its own memory; the batch never finishes.

Defence tested: the trusted side refuses symlinks and anything but a regular file, and reads
at most the source size limit. Expected: 0 points, and the batch finishes.
"""
LINK_TARGET = "/dev/zero"
