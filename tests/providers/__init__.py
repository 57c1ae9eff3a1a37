"""The provider clients against the sandbox, the priority gate, the safe fetch."""
