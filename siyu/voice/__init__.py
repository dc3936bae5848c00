"""Fan voice: what fans want next (需求收集), wish lists, encore votes (返场) and surveys."""
