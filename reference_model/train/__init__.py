"""Training: pretraining (single process or torchrun DDP/FSDP), checkpoints, metrics."""
