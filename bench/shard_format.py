"""Shard format: the cache's float16 ``.npy`` layer files against Zarr, on real activations.

Reads what the analysis reads from a layer: every row in 8,192-row blocks (standardising and
streamed probes), a few neuron columns over all rows (neuron cards, retraining on chosen
neurons) and scattered rows (random draws of sentences). Zarr (v3) is written with row chunks of
8,192 words, uncompressed and with its default compressor (zstd). Page cache is warm for both
(the second of two passes is timed), which is the analysis's steady state.

    python bench/shard_format.py --entry cache/activations/minilm/<train entry> --json shard-format.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from neuronviz.store.activation_cache import open_entry

ROWS = 8192


def best_of(fn, repeat: int = 3) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def take(layer, rows, cols) -> np.ndarray:
    """Orthogonal selection: numpy's ``[rows][:, cols]``, Zarr's ``oindex``."""
    if hasattr(layer, "oindex"):
        return np.asarray(layer.oindex[rows, cols])
    return np.asarray(layer[rows][:, cols])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", required=True, help="a cache entry folder")
    parser.add_argument("--layers", type=int, default=3, help="layers to copy and read")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()

    import zarr

    entry = open_entry(args.entry)
    n, h = entry.manifest.n_words, entry.hidden_size
    tmp = Path(tempfile.mkdtemp(prefix="shardfmt-"))
    rng = np.random.default_rng(0)
    cols = np.sort(rng.choice(h, 8, replace=False))
    rows = np.sort(rng.choice(n, 2000, replace=False))
    out = {"entry": str(entry.path), "words": n, "hidden": h, "layers": args.layers, "formats": {}}
    try:
        arrays = {"npy (memmap)": [entry.layer(i) for i in range(args.layers)]}
        for name, codecs in (("zarr, uncompressed", None), ("zarr, zstd", "default")):
            layers = []
            for i in range(args.layers):
                kw = {} if codecs == "default" else {"compressors": None}
                z = zarr.create_array(
                    store=str(tmp / f"{name[:4]}{codecs}{i}.zarr"),
                    shape=(n, h),
                    chunks=(ROWS, h),
                    dtype="float16",
                    **kw,
                )
                z[:] = np.asarray(entry.layer(i))
                layers.append(z)
            arrays[name] = layers
        for name, layers in arrays.items():

            def blocks(layers=layers) -> None:
                for layer in layers:
                    for a in range(0, n, ROWS):
                        np.asarray(layer[a : a + ROWS], dtype=np.float32)

            def columns(layers=layers) -> None:
                for layer in layers:
                    take(layer, slice(None), cols)

            def scattered(layers=layers) -> None:
                for layer in layers:
                    take(layer, rows, slice(None))

            stored = sum(
                layer.nbytes_stored() if hasattr(layer, "nbytes_stored") else layer.nbytes
                for layer in layers
            )
            out["formats"][name] = {
                "all rows in 8,192-row blocks (s)": round(best_of(blocks), 4),
                "8 columns of all rows (s)": round(best_of(columns), 4),
                "2,000 scattered rows (s)": round(best_of(scattered), 4),
                "bytes stored": int(stored),
            }
            print(name, out["formats"][name], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
