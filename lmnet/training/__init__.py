"""Training: the step loop, checkpoints, summaries, pre-trained weights."""
