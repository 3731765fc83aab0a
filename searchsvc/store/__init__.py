"""store/: how is an index kept on disk and read back? The only package that imports Whoosh."""
