"""Presence itself: Graph's settable pairs and a hold's window (rules), and reading presence for one
user or many (service)."""
