"""Analytics: the numbers a host judges her private domain by (dashboard, RFM, churn risk)."""
