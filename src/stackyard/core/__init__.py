"""The domain: stacks, runs, triggers, plans and reports, with no I/O and no imports outside the stdlib."""
