"""Daily provider quotas as a budget: the rules (:mod:`.rules`), the shared counters
in Redis (:mod:`.store`) and the forecast of what queued work will cost (:mod:`.forecast`).
"""
