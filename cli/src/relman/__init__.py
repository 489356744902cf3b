"""relman: the command-line client of the DevOps Release Manager."""

__version__ = "0.1.0"
