"""Points tasks (积分任务): one-time, daily and weekly tasks, and the review queue for 评价有礼 screenshots."""
