"""OBSY telescope node: runs imaging, spools frames, uploads them to the master."""
__version__ = "0.1.0"
