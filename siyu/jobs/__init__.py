"""Durable background work: a jobs/outbox table written in the caller's transaction, drained by workers."""
