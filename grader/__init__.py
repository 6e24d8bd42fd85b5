"""grader: an autograder for numerical deep-learning homework."""

__version__ = "0.1.0"
