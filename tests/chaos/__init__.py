"""Proof under fire: the chaos scenarios (shared with bench/chaos.py) and their short CI form."""
