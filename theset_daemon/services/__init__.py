"""Side services of the daemon around the job pipeline: the artist-page cache
(:mod:`.cache`), trending (:mod:`.trending`), partner webhooks (:mod:`.webhooks`)
and retention (:mod:`.cleanup`). Their actors are in ``actors/``.
"""
