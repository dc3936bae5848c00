"""Invitations (邀请有礼) and share leaderboards (分享排行榜): invite codes, the rewards of both sides,
settling ranks."""
