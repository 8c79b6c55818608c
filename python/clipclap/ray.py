"""Bulk embedding on Ray Data: an actor class for `Dataset.map_batches`, and a helper.

    import ray, clipclap.ray
    ds = ray.data.from_items([{"path": p} for p in paths])          # or read_binary_files(..., include_paths=True)
    out = clipclap.ray.embed_dataset(ds, "path/to/bundle", concurrency=2)
    out.write_parquet("vectors/")                                    # path, modality, embedding, error

Each actor loads the model once and embeds batches of files through the engine (the GIL is
released while it runs). A file that fails to read or decode becomes a row with its error and
no embedding; it never fails the batch. Actors that die (a lost node, an OOM kill) are
restarted and their batches retried by Ray.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import Model


class ClipclapEmbedder:
    """A Ray Data callable class: batches with a "path" column (and optionally "bytes", the
    file's contents, as read_binary_files gives, and "modality": "image", "audio", "video" or
    "" to sniff) become batches with "path", "modality", "embedding" (float32 rows, or None on
    error) and "error" (None when embedded)."""

    def __init__(self, model: str, threads: int = 1, **model_kwargs: Any):
        self.model = Model(model, threads=threads, **model_kwargs)

    def __call__(self, batch: dict[str, np.ndarray]):
        import pyarrow as pa

        paths = [str(p) for p in batch["path"]]
        contents = [bytes(b) for b in batch["bytes"]] if "bytes" in batch else []
        modalities = [str(m or "") for m in batch["modality"]] if "modality" in batch else []
        vectors, modality, errors = self.model._native.embed_files(paths, contents, modalities)
        # An Arrow table: the embedding column is list<float32> (null for a failed file), as
        # Parquet, Spark and DuckDB read it.
        return pa.table({
            "path": pa.array(paths, pa.string()),
            "modality": pa.array([m or None for m in modality], pa.string()),
            "embedding": pa.array([None if e else v for v, e in zip(vectors, errors)], pa.list_(pa.float32())),
            "error": pa.array([e or None for e in errors], pa.string()),
        })


def embed_dataset(ds, model: str, *, concurrency: int = 2, threads_per_actor: int = 1, batch_size: int = 16,
                  cls: type = ClipclapEmbedder, fn_constructor_kwargs: dict | None = None, **model_kwargs: Any):
    """`ds.map_batches` with `concurrency` actors of `cls` (ClipclapEmbedder, or a subclass of
    it with more constructor arguments in `fn_constructor_kwargs`) of `threads_per_actor`
    threads each (one CPU each), restarted and their batches retried if they die."""
    import ray.data

    return ds.map_batches(
        cls,
        fn_constructor_kwargs={"model": model, "threads": threads_per_actor, **(fn_constructor_kwargs or {}), **model_kwargs},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=threads_per_actor,
        max_restarts=-1,
        max_task_retries=-1,
    )
