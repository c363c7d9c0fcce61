#!/usr/bin/env python3
"""Check a running songrec-dataapi-server with astrapy, a client nobody here wrote.

Usage:
    python check.py --endpoint http://127.0.0.1:PORT --token TOKEN [--keyspace default_keyspace]

Every step compares the server's answer with an independently computed
expectation and exits non-zero with a message on the first mismatch.
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import sys

from astrapy import DataAPIClient
from astrapy.constants import VectorMetric
from astrapy.info import CollectionDefinition


class CheckFailed(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def f32(x: float) -> float:
    """Round a Python float to the nearest float32."""
    return struct.unpack(">f", struct.pack(">f", x))[0]


def cosine_similarity(q: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(q, v))
    nq = math.sqrt(sum(a * a for a in q))
    nv = math.sqrt(sum(b * b for b in v))
    return (1.0 + dot / (nq * nv)) / 2.0


def euclidean_similarity(q: list[float], v: list[float]) -> float:
    return 1.0 / (1.0 + sum((a - b) ** 2 for a, b in zip(q, v)))


def brute_force(docs, q, metric, flt=lambda d: True, k=10):
    scored = [(metric(q, d["$vector"]), d["_id"]) for d in docs if flt(d)]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return scored[:k]


def compare_ranking(label: str, got: list[dict], expected: list[tuple[float, str]]) -> None:
    expect(
        len(got) == len(expected),
        f"{label}: expected {len(expected)} results, got {len(got)}",
    )
    for rank, (doc, (sim, _id)) in enumerate(zip(got, expected)):
        server_sim = doc.get("$similarity")
        expect(server_sim is not None, f"{label}: result {rank} has no $similarity")
        expect(
            abs(server_sim - sim) < 1e-5,
            f"{label}: rank {rank}: server similarity {server_sim} for {doc['_id']}, "
            f"brute force {sim} for {_id}",
        )
        if doc["_id"] != _id:
            # Only acceptable for (near-)ties.
            expect(
                abs(server_sim - sim) < 1e-6,
                f"{label}: rank {rank}: server returned {doc['_id']}, brute force {_id}",
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--keyspace", default="default_keyspace")
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--dim", type=int, default=16)
    args = ap.parse_args()

    rng = random.Random(20240611)
    client = DataAPIClient(environment="other")
    db = client.get_database(args.endpoint, token=args.token, keyspace=args.keyspace)

    name = "astrapy_check"
    if name in db.list_collection_names():
        db.drop_collection(name)
    coll = db.create_collection(
        name,
        definition=CollectionDefinition.builder()
        .with_vector_dimension(args.dim)
        .with_vector_metric(VectorMetric.COSINE)
        .build(),
    )
    expect(name in db.list_collection_names(), "created collection not listed")
    listed = {c.name: c for c in db.list_collections()}
    vec_opts = listed[name].definition.vector
    expect(
        vec_opts is not None and vec_opts.dimension == args.dim,
        f"list_collections: unexpected vector options {vec_opts}",
    )
    print(f"ok  create_collection {name} (dimension {args.dim}, cosine)")

    genres = ["rock", "jazz", "pop", "folk"]
    docs = []
    for i in range(args.docs):
        vec = [f32(rng.uniform(-1.0, 1.0)) for _ in range(args.dim)]
        docs.append(
            {
                "_id": f"song{i:05d}",
                "title": f"Song {i}",
                "genre": genres[i % len(genres)],
                "n": i,
                "$vector": vec,
            }
        )
    result = coll.insert_many(docs)
    expect(
        list(result.inserted_ids) == [d["_id"] for d in docs],
        "insert_many: inserted_ids differ from the documents' ids",
    )
    expect(
        coll.count_documents({}, upper_bound=args.docs + 100) == args.docs,
        "count_documents after insert_many is wrong",
    )
    print(f"ok  insert_many {args.docs} documents")

    # Vector search, no filter.
    q = [f32(rng.uniform(-1.0, 1.0)) for _ in range(args.dim)]
    got = list(coll.find({}, sort={"$vector": q}, limit=10, include_similarity=True))
    compare_ranking("vector find", got, brute_force(docs, q, cosine_similarity))
    expect("$vector" not in got[0], "vector find: $vector returned by default projection")
    print("ok  vector find (limit 10) matches brute force ids and similarities")

    # Vector search among filter matches.
    got = list(
        coll.find(
            {"genre": "jazz"},
            sort={"$vector": q},
            limit=7,
            include_similarity=True,
            projection={"title": True, "genre": True},
        )
    )
    compare_ranking(
        "filtered vector find",
        got,
        brute_force(docs, q, cosine_similarity, lambda d: d["genre"] == "jazz", k=7),
    )
    expect(all(d["genre"] == "jazz" for d in got), "filtered vector find: wrong genre")
    expect(set(got[0]) == {"_id", "title", "genre", "$similarity"}, f"projection: {set(got[0])}")
    print("ok  vector find with filter and projection")

    # The stored vector comes back (as float32) when projected.
    one = coll.find_one({"_id": "song00003"}, projection={"*": True})
    expect(one is not None, "find_one by _id returned nothing")
    back = list(one["$vector"])
    expect(back == docs[3]["$vector"], "stored $vector differs from the inserted one")
    print("ok  find_one returns the stored $vector")

    # Plain find pages through everything (page size < document count).
    seen: dict[str, int] = {}
    for d in coll.find({}, projection={"_id": True}):
        seen[d["_id"]] = seen.get(d["_id"], 0) + 1
    dupes = [k for k, c in seen.items() if c != 1]
    expect(not dupes, f"paging: documents seen more than once: {dupes[:5]}")
    expect(len(seen) == args.docs, f"paging: saw {len(seen)} documents, expected {args.docs}")
    got = list(coll.find({"genre": "rock"}, limit=60))
    expect(len(got) == 60, f"find limit 60 across pages returned {len(got)}")
    # Unsorted finds come back in token (hash) order, not _id order (as Cassandra's): any 60
    # distinct rock documents.
    rock = {d["_id"] for d in docs if d["genre"] == "rock"}
    got_ids = [d["_id"] for d in got]
    expect(
        len(set(got_ids)) == 60 and set(got_ids) <= rock,
        "find with filter+limit returned the wrong documents",
    )
    print(f"ok  find paging saw each of {args.docs} documents exactly once")

    # update_one with upsert: insert case.
    res = coll.update_one({"_id": "new-one", "genre": "ska"}, {"$set": {"n": -1}}, upsert=True)
    info = res.update_info
    expect(info.get("upserted") == "new-one", f"upsert insert: update_info {info}")
    expect(info.get("n") == 1 and info.get("nModified") == 0, f"upsert insert: update_info {info}")
    new_doc = coll.find_one({"_id": "new-one"})
    expect(
        new_doc == {"_id": "new-one", "genre": "ska", "n": -1},
        f"upserted document is {new_doc}",
    )
    # update_one with upsert: update case.
    res = coll.update_one(
        {"_id": "song00010"}, {"$set": {"title": "Changed"}, "$inc": {"n": 1000}}, upsert=True
    )
    info = res.update_info
    expect("upserted" not in info, f"upsert update: unexpected upserted in {info}")
    expect(info.get("updatedExisting") is True and info.get("nModified") == 1, f"upsert update: {info}")
    changed = coll.find_one({"_id": "song00010"})
    expect(
        changed is not None and changed["title"] == "Changed" and changed["n"] == 1010,
        f"updated document is {changed}",
    )
    # No-op update reports nModified 0.
    res = coll.update_one({"_id": "song00010"}, {"$set": {"title": "Changed"}})
    expect(res.update_info.get("nModified") == 0, f"no-op update: {res.update_info}")
    print("ok  update_one upsert (insert and update cases)")

    # update_many pages through more than one page.
    res = coll.update_many({"genre": "pop"}, {"$set": {"flag": True}})
    n_pop = sum(1 for d in docs if d["genre"] == "pop")
    expect(res.update_info.get("nModified") == n_pop, f"update_many: {res.update_info}, expected {n_pop}")
    expect(
        coll.count_documents({"flag": True}, upper_bound=1000) == n_pop,
        "update_many: flagged count wrong",
    )
    print(f"ok  update_many modified {n_pop} documents")

    # delete_many loops on moreData.
    n_jazz = sum(1 for d in docs if d["genre"] == "jazz")
    res = coll.delete_many({"genre": "jazz"})
    expect(res.deleted_count == n_jazz, f"delete_many deleted {res.deleted_count}, expected {n_jazz}")
    total = args.docs + 1 - n_jazz
    expect(
        coll.count_documents({}, upper_bound=args.docs + 100) == total,
        "count_documents after delete_many is wrong",
    )
    expect(coll.count_documents({"genre": "jazz"}, upper_bound=10) == 0, "jazz documents remain")
    expect(
        coll.count_documents({"n": {"$lt": 100}}, upper_bound=1000)
        == sum(1 for d in docs if d["n"] < 100 and d["genre"] != "jazz"),
        "count_documents with $lt filter is wrong",
    )
    print(f"ok  delete_many deleted {n_jazz}; count_documents = {total}")

    # Errors surface as astrapy exceptions.
    try:
        coll.insert_one({"_id": "song00000"})
    except Exception as e:  # noqa: BLE001
        expect("DOCUMENT_ALREADY_EXISTS" in str(e), f"duplicate insert raised {e!r}")
    else:
        raise CheckFailed("duplicate insert_one did not raise")
    print("ok  duplicate insert_one raises DOCUMENT_ALREADY_EXISTS")

    db.drop_collection(name)
    expect(name not in db.list_collection_names(), "drop_collection did not drop")
    print("ok  drop_collection")
    print("ASTRAPY CHECK PASSED")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(f"ASTRAPY CHECK FAILED: {e}", file=sys.stderr)
        sys.exit(1)
