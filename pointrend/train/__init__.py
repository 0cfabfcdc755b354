"""Training: `trainer.Trainer` (iteration schedule on paddle.Model) and the ready parts it takes:
`callbacks`, `optim`, `sampler`, `checkpoint`, `amp`, `rng`.

Submodules are imported explicitly so that importing one part does not pull in the others.
"""
