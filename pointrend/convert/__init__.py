"""Converting published checkpoints of other codebases into this package's models."""
