"""Proof of identity at redemption: cards (signed QR) and in-person checks by a caseworker."""
