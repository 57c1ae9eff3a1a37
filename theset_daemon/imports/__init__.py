"""The artist import pipeline, from the API's kickoff to the last progress event.

Follow one import in this order:

* :mod:`.kickoff` — persist the import row, enqueue phase 1 (deferred while Redis refuses);
* :mod:`.plan` — the phases as data (job, weight, inputs): the only list of stages;
* :mod:`.run` — :class:`~.run.PhaseRun`, what every phase actor runs inside: progress,
  fan-out of the phases now ready, failure, completion;
* :mod:`.phases` — each phase's domain work (plain functions over providers and PostgreSQL);
* :mod:`.tracker` — the ``import_phases`` rows: started, fraction, done, failed (their SQL in
  :mod:`theset_daemon.store.import_phases`);
* :mod:`.progress` — the import row's status and the Redis stream of progress events;
* :mod:`.view` — the one JSON view of an import row; :mod:`.errors` — its failure codes;
* :mod:`.stream` — the SSE hub that fans the progress stream out to browsers (served by
  :mod:`theset_daemon.web.events`), on URLs signed by :mod:`.signing`;
* :mod:`.failures` — middleware: a dead-lettered phase fails its import;
* :mod:`.reconcile` — the per-minute backstop re-enqueuing phases Redis lost.

The actors that run the phases are in ``actors/``; the SQL of the import row in
:mod:`theset_daemon.store.imports`; the HTTP API in :mod:`theset_daemon.web.imports` and
:mod:`theset_daemon.web.events`.
"""
