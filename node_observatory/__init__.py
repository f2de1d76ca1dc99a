"""OBSY observatory node (built in later issues)."""
