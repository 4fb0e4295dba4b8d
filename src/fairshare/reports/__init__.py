"""Coverage, exclusion and equity reports over eligibility and the ledger."""
