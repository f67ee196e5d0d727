"""Errors that the command line reports as one clear line (exit code 2)."""

from __future__ import annotations


class ArchsimError(Exception):
    """Bad input: the message names the file and the field at fault."""


class ConfigError(ArchsimError):
    """A hardware configuration or workload file is malformed or impossible."""


class FormatError(ArchsimError):
    """A model or trace file is missing, corrupt, or inconsistent."""


class CheckError(ArchsimError):
    """The functional model disagrees with a trace's expected outputs."""
