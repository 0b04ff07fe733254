"""Rate-limited retraining: the gate, the RQ job, training, and the model registry."""
