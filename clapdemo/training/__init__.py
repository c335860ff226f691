"""Training: the projection, its loss, where it starts, the one way to plan and run a training, and the run it leaves on disk."""
