"""Training: `trainer.Trainer` (iteration schedule on paddle.Model) and the ready parts it takes:
`callbacks`, `optim`, `sampler`, `checkpoint`, `amp`, `rng`; `hapi` holds every workaround for
paddle.Model.

Submodules are imported explicitly so that importing one part does not pull in the others.
"""
