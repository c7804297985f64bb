"""The verifier: is a sentence supported by the passage it cites (hard checks plus a logistic model)."""
