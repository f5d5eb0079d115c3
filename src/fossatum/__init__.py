"""Fossatum: the shared situation centre of neighbouring border-security agencies."""

__version__ = "0.1.0"
