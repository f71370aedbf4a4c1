"""The Textual app; imports neither Paddle nor the trainer, so the first frame comes at once."""
