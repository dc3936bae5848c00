"""Member tags and saved segments (会员标签、会员分群)."""
