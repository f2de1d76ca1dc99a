"""Stacks of ingested lights kept by the worker (the live stack per target, filter and night)."""
