"""Tiered fan groups (分层社群): groups with entry thresholds, a QR code ops keep fresh, caps with overflow groups."""
