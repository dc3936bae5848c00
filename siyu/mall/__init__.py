"""The points mall (积分商城): rewards, code pools, redemptions and their fulfilment, fans' address book."""
