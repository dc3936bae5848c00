"""Notices to fans: WeChat subscribe messages, SMS and webhooks, through an outbox with quiet hours and caps."""
