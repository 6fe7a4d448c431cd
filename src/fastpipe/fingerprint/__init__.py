"""Code fingerprints: a stage function -> a manifest of every piece of code it reaches."""

from fastpipe.fingerprint.walker import Fingerprinter, Manifest

__all__ = ["Fingerprinter", "Manifest"]
