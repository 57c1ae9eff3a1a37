"""Proof under fire: three daemons, a faulty sandbox, a private Redis and PostgreSQL, and the web app.

Shared by ``test_chaos.py`` (the short form, CI) and ``bench/chaos.py`` (the full run): the
same scenarios with different sizes (:class:`~tests.chaos.run.ChaosParams`).

* ``servers`` — a Redis and a PostgreSQL of the run's own on free loopback ports (the shared
  6379 / 5432 are never touched): Redis killed and restarted empty, PostgreSQL stopped and started.
* ``cluster`` — N daemons (separate processes, ports, ``THESET_HOST_ID``), started, SIGTERMed
  (drain timed), SIGKILLed and restarted; their RSS, their readiness.
* ``webapp`` — what the web app does: kickoffs and SSE followers, routed like a load balancer.
* ``checks`` — the database against the sandbox's ground truth, duplicate rows, the logs.
* ``results`` — a scenario's row and the table of them.
* ``run`` — one run (:class:`~tests.chaos.run.Chaos`): everything started, what scenarios share.
* ``scenarios``, ``bad_input`` — one fault each, returning a ``ScenarioResult`` whose
  ``problems`` list every broken promise.

Every wait is bounded in time; every loop in count or time.
"""
