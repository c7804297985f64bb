"""The LangChain tutorial pipeline, measured side by side with ours (same files, same model).

DirectoryLoader -> RecursiveCharacterTextSplitter(500, 50) -> Chroma.from_documents with the bundled
all-MiniLM-L6-v2 through langchain-huggingface (fp32, as the tutorial runs it); chunks are mapped back to
documents for retrieval metrics.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eval.datasets import Dataset
from retrieval.embeddings import bundled_model_path

COLLECTION = "tutorial"


def langchain_embeddings() -> Any:
    """The bundled MiniLM as a LangChain embeddings object (the tutorial pipeline, the Ragas judge's embedder)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(bundled_model_path()), model_kwargs={"device": "cpu"})


def build_tutorial_index(docs_dir: Path, persist_dir: Path, glob: str = "**/*.txt") -> dict[str, float]:
    """Run the tutorial pipeline on a folder; returns its timings and counts."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    loader = DirectoryLoader(str(docs_dir), glob=glob, loader_cls=TextLoader, show_progress=False)
    docs = loader.load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50).split_documents(docs)
    t_split = time.perf_counter()
    client = chromadb.PersistentClient(
        path=str(persist_dir), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    Chroma.from_documents(chunks, langchain_embeddings(), client=client, collection_name=COLLECTION)
    t_end = time.perf_counter()
    return {
        "docs": len(docs),
        "chunks": len(chunks),
        "seconds": round(t_end - t0, 1),
        "load_split_seconds": round(t_split - t0, 1),
    }


def tutorial_variant(dataset: Dataset, persist_dir: Path, docs_dir: Path) -> dict[str, Any]:
    """Retrieval metrics of the tutorial index (built first if missing), scored like our variants."""
    import chromadb
    from langchain_chroma import Chroma

    from eval.retrieval_metrics import score_queries

    if not (persist_dir / "chroma.sqlite3").exists():
        build_tutorial_index(docs_dir, persist_dir)
    client = chromadb.PersistentClient(
        path=str(persist_dir), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    store = Chroma(client=client, collection_name=COLLECTION, embedding_function=langchain_embeddings())

    def search(text: str) -> list[str]:
        return [Path(doc.metadata["source"]).stem for doc, _ in store.similarity_search_with_score(text, k=300)]

    metrics: dict[str, Any] = score_queries(dataset, search)["metrics"]
    return metrics
