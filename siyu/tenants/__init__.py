"""Tenants (a host, brand or MCN account) and their sales channels."""
