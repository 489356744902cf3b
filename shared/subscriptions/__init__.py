"""Webhook subscriptions: who manages them, their filters and targets, their delivery log."""
