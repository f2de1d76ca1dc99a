"""OBSY remote node: a public, read-only live site fed by the master's MQTT topics."""
