"""Notifications: settings and preferences, messages built from events, deliveries, maintenance."""
