"""The artist import: kickoff, plan, phases, progress, reconciliation, end to end."""
