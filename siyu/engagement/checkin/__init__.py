"""Daily check-in (签到): one a tenant-local day, streaks, day-N rewards, make-ups and the reminder."""
