"""Changing neurons inside the model's forward pass and measuring what that does."""
