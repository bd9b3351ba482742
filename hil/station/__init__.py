"""Station files (what is on the bench and how it is wired) and the runtime Station."""
