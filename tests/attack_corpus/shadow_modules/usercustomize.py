"""Companion of shadow_modules/hw2.py: user customisation that would run at interpreter start."""
import builtins

builtins.GRADER_ATTACK_SHADOWED = "usercustomize.py"
