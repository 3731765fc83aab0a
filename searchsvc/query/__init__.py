"""query/: what did the reader ask for? Text parsed, then planned into our own node types."""
