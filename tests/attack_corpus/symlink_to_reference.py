"""Attack: a submission that is a symbolic link to the reference module.

The test plants ``NAME/hw2.py -> <repository>/problems/hw2/reference.py`` (``LINK_TARGET``,
relative to the repository): a grader that follows the link grades the reference itself and
gives full marks; one that copies or mounts it exposes the reference to the student.

Defence tested: the trusted side never follows a submission's symlink (the grader reads the
source with ``O_NOFOLLOW``; the executor refuses it and gives the sandbox a copy read from a
descriptor opened with ``O_NOFOLLOW``). Expected: 0 points for every question.
"""
LINK_TARGET = "problems/hw2/reference.py"
