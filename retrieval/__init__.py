"""The index and everything that reads it: embeddings, Chroma store, BM25, fusion, rerank, filters, Retriever."""
