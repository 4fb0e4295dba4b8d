"""The wallet ledger: double-entry accounts, transfers, cycles, redemption, payouts."""
