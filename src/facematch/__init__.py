"""facematch: a self-hostable, OneKYC-compatible face match service."""

__version__ = "0.1.0"
