"""Companion of shadow_modules/hw2.py: a numpy.py that would run instead of numpy.

If imported (the submission's folder on sys.path), it raises the flag, then steps aside and
loads the real numpy in its own place, so that nothing else looks wrong.
"""
import builtins
import importlib
import os
import sys

builtins.GRADER_ATTACK_SHADOWED = "numpy.py"
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["numpy"]
sys.modules["numpy"] = importlib.import_module("numpy")
