"""What the service holds for a user (a session, a preferred presence, a status message): the pure
rules, the service that claims, calls Graph and audits, and the store."""
