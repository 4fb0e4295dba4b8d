"""Eligibility: programmes, rules, decisions with explanations, simulation, appeals."""
