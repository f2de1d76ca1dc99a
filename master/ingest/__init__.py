"""Ingest: claim-checked frames from nodes and files from disk become repository frames."""
