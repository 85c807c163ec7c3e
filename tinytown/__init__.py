"""Tinytown: simple multi-agent orchestration using Redis, on Trio."""

__version__ = "0.10.0"
