"""Staff users, their roles in each tenant, console sessions and API keys."""
