"""Schedules: recurrence and what an occurrence's start or end does to a hold (pure), the API side
(service), the apply_schedules timer (timer) and the store."""
