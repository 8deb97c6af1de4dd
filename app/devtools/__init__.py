"""Development tools, never imported by production code: the QuickBooks stand-in (`bankfeeds
sandbox`), the simulated month, `bankfeeds demo`, the architecture measure and the generators of
docs/CONFIGURATION.md, CLI.md and WORKER.md."""
