"""The audit log of staff and API-key actions: who, what, when, before and after."""
