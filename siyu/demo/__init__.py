"""A realistic demo tenant: a livestream host with shops on every platform, staff of every role, fans."""
