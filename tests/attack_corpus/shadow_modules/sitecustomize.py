"""Companion of shadow_modules/hw2.py: site customisation that would run at interpreter start."""
import builtins

builtins.GRADER_ATTACK_SHADOWED = "sitecustomize.py"
