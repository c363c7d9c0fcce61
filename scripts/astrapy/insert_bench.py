#!/usr/bin/env python3
"""Insert N songs (metadata + 512-dim vectors) via astrapy insert_many and time it.

Usage:
    python insert_bench.py --endpoint http://127.0.0.1:PORT --token TOKEN \
        [--keyspace default_keyspace] [--collection bench_songs] [-n 10000] [--dim 512]

Prints one line: astrapy_insert docs=N seconds=S docs_per_s=R
(the collection is dropped and re-created first).
"""

from __future__ import annotations

import argparse
import random
import time

from astrapy import DataAPIClient
from astrapy.constants import VectorMetric
from astrapy.info import CollectionDefinition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--keyspace", default="default_keyspace")
    ap.add_argument("--collection", default="bench_songs")
    ap.add_argument("-n", "--docs", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    genres = ["rock", "jazz", "pop", "folk", "classical", "electronic"]
    docs = [
        {
            "_id": f"bench{i:06d}",
            "title": f"Track {i}",
            "artist": f"Artist {i % 97}",
            "album": f"Album {i % 311}",
            "genre": genres[i % len(genres)],
            "duration_s": 120 + (i % 240),
            "path": f"/music/artist{i % 97}/album{i % 311}/track{i}.flac",
            "$vector": [rng.uniform(-1.0, 1.0) for _ in range(args.dim)],
        }
        for i in range(args.docs)
    ]

    client = DataAPIClient(environment="other")
    db = client.get_database(args.endpoint, token=args.token, keyspace=args.keyspace)
    if args.collection in db.list_collection_names():
        db.drop_collection(args.collection)
    coll = db.create_collection(
        args.collection,
        definition=CollectionDefinition.builder()
        .with_vector_dimension(args.dim)
        .with_vector_metric(VectorMetric.COSINE)
        .build(),
    )

    start = time.perf_counter()
    result = coll.insert_many(docs)
    seconds = time.perf_counter() - start
    if len(result.inserted_ids) != args.docs:
        raise SystemExit(f"inserted {len(result.inserted_ids)} of {args.docs} documents")
    print(
        f"astrapy_insert docs={args.docs} seconds={seconds:.3f} "
        f"docs_per_s={args.docs / seconds:.1f}"
    )


if __name__ == "__main__":
    main()
