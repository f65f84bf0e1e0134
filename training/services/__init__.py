"""Training services (writes), one module per area: ``runs`` (plan, create, launch, poll, cancel and
resume runs), ``placement`` (the GPU pool of the local backend: hosts, the queue, placement) and
``zeroshot`` (evaluation requests of checkpoints, stored as EvalResult rows)."""
