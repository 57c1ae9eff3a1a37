"""The ``theset-daemon`` command: :mod:`.main` (the entry point and its subcommands),
the operator's verbs on queues and jobs (:mod:`.operator`), error explanations
(:mod:`.errors`), help text (:mod:`.help`), the demo (:mod:`.demo`), following an
import (:mod:`.follow`) and the one table printer (:mod:`.table`).
"""
