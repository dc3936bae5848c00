"""Live calendar (直播预告), reservations (直播预约), reminders and the attribution of orders to shows."""
