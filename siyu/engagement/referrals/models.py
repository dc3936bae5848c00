"""Tables of this part of engagement."""
