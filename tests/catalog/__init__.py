"""The catalogue: the studio filter, live markers, dedupe, cross-provider matching."""
