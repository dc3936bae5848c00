"""Engagement: the low-threshold daily actions that bring a fan back when she has no order to claim.

Three parts that do not import each other: daily check-in (`checkin`), points tasks with the review queue
(`missions`) and invitations with their share leaderboards (`referrals`). Every point they give goes through
the ledger under a unique source reference (siyu.ledger.refs), so a retry or a double tap never pays twice.
"""
