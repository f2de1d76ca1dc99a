"""OBSY remote node (built in later issues)."""
