"""Printer rules, one module per topic: materials (AMS slots), live (status from the link),
commands (the outbox)."""
