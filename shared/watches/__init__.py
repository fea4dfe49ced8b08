"""Presence watches: what counts as a change and where it may be sent (rules), watches and the
poll_watches timer (service), their tables (store) and sending notifications (webhooks)."""
