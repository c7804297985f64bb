"""Ingestion: loaders -> chunking -> manifest -> the index (Chroma + BM25)."""
