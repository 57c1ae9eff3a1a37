"""What an operator runs: the command line, the demo, the deployed unit, the installed package."""
