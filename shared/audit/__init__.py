"""The audit trail: one row per change the API or a timer made (store), read newest first by
`GET /api/audit` (service)."""
