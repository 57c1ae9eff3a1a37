"""The stand-in provider APIs: their generated world and their contract with the documented examples."""
