"""aar: an automated alignment researcher for weak-to-strong generalization."""

__version__ = "0.1.0"
