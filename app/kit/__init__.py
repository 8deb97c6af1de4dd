"""What every domain shares: the operation layer, input and query parsing, errors, principals,
the request guards (rate limits, idempotency), the scoped repository base. It imports no domain."""
