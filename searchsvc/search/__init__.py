"""search/: which articles answer, in what order? Scoring over a snapshot, tiers, facets, related."""
