"""Companion of shadow_modules/hw2.py: a conftest.py that takes over any pytest run collecting it.

A hostile one would turn every failure into a pass. This one, living in the grader's own test
tree, ends the process that imported it with exit code 99 instead, so that a pytest
configuration that stopped excluding the attack corpus (``norecursedirs``) fails loudly
rather than silently.
"""
import os
import sys

sys.stderr.write("tests/attack_corpus/shadow_modules/conftest.py was imported: pytest must never "
                 "collect from submission folders (norecursedirs)\n")
os._exit(99)
