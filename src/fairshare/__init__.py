"""Fairshare: get social benefits to the people who need them, and nothing else."""

__version__ = "0.1.0"
