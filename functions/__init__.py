"""HTTP and timer entry points: one Blueprint per module, each handler a few lines over shared/."""
