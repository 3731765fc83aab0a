"""model/: what does the index know about how people write? Vocabulary and bigrams, built by store.writer."""
