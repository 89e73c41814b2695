"""The synthetic street world: procedural driving sequences with exact ground truth (numpy)."""
