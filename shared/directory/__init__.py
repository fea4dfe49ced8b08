"""Who a request is about: validating user ids, UPNs and e-mail addresses, and resolving them to
object ids (a cache in Table storage first, Graph for the rest)."""
