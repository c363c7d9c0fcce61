//! Document commands that write: updates (with upserts), find-and-modify, deletes and counts,
//! and the commands of songrec's change feed.

use serde_json::{Value, json};
use songrec_testkit::dataapi::*;

use super::seed_people;

#[tokio::test]
async fn update_one_operators_and_upsert() {
    let api = server().await;
    seed_people(&api).await;
    let v = api
        .coll(
            "p",
            json!({"updateOne": {"filter": {"_id": "ann"}, "update": {
                "$set": {"addr.country": "NO"},
                "$unset": {"joined": ""},
                "$inc": {"age": 1, "visits": 2},
                "$mul": {"addr.zip": 10},
                "$push": {"tags": {"$each": ["z", "y"], "$position": 0}},
                "$addToSet": {"roles": "admin"},
                "$min": {"low": 5},
                "$max": {"high": 7},
                "$rename": {"name": "fullName"},
                "$currentDate": {"seen": true},
                "$setOnInsert": {"created": true}
            }}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"status": {"matchedCount": 1, "modifiedCount": 1}})
    );
    let v = api
        .coll("p", json!({"findOne": {"filter": {"_id": "ann"}}}))
        .await;
    let d = &v["data"]["document"];
    assert_eq!(
        d["addr"],
        json!({"city": "Oslo", "zip": 10, "country": "NO"})
    );
    assert_eq!(d["age"], 31);
    assert_eq!(d["visits"], 2);
    assert_eq!(d["tags"], json!(["z", "y", "a", "b"]));
    assert_eq!(d["roles"], json!(["admin"]));
    assert_eq!((d["low"].clone(), d["high"].clone()), (json!(5), json!(7)));
    assert_eq!(d["fullName"], "Ann");
    assert!(d.get("name").is_none() && d.get("joined").is_none() && d.get("created").is_none());
    assert!(
        d["seen"]["$date"]
            .as_i64()
            .is_some_and(|ms| ms > 1_600_000_000_000)
    );

    let v = api
        .coll("p", json!({"updateOne": {"filter": {"_id": "ann"}, "update": {"$pop": {"tags": 1}, "$pullAll": {"roles": ["admin"]}}}}))
        .await;
    assert_eq!(v["status"]["modifiedCount"], 1);
    let v = api
        .coll(
            "p",
            json!({"findOne": {"filter": {"_id": "ann"}, "projection": {"tags": 1, "roles": 1}}}),
        )
        .await;
    assert_eq!(
        v["data"]["document"],
        json!({"_id": "ann", "tags": ["z", "y", "a"], "roles": []})
    );

    // No change → modifiedCount 0.
    let v = api
        .coll(
            "p",
            json!({"updateOne": {"filter": {"_id": "bob"}, "update": {"$set": {"age": 25}}}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"status": {"matchedCount": 1, "modifiedCount": 0}})
    );
    // No match, no upsert.
    let v = api
        .coll(
            "p",
            json!({"updateOne": {"filter": {"_id": "zed"}, "update": {"$set": {"age": 1}}}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"status": {"matchedCount": 0, "modifiedCount": 0}})
    );
    // Upsert: _id and equality fields from the filter, then the update.
    let v = api
        .coll(
            "p",
            json!({"updateOne": {"filter": {"_id": "zed", "team": "red", "age": {"$gt": 3}}, "update": {"$set": {"n": 1}, "$setOnInsert": {"new": true}}, "options": {"upsert": true}}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"status": {"matchedCount": 0, "modifiedCount": 0, "upsertedId": "zed"}})
    );
    let v = api
        .coll("p", json!({"findOne": {"filter": {"_id": "zed"}}}))
        .await;
    assert_eq!(
        v["data"]["document"],
        json!({"_id": "zed", "team": "red", "n": 1, "new": true})
    );
    // Upsert without _id in filter generates one.
    let v = api
        .coll("p", json!({"updateOne": {"filter": {"name": "Newbie"}, "update": {"$inc": {"n": 1}}, "options": {"upsert": true}}}))
        .await;
    let id = v["status"]["upsertedId"]
        .as_str()
        .expect("generated id")
        .to_owned();
    let v = api
        .coll("p", json!({"findOne": {"filter": {"_id": id}}}))
        .await;
    assert_eq!(v["data"]["document"]["name"], "Newbie");

    for (update, code) in [
        (
            json!({"$set": {"_id": 1}}),
            "UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID",
        ),
        (json!({"$bogus": {"a": 1}}), "UNSUPPORTED_UPDATE_OPERATION"),
        (json!({"name": "x"}), "UNSUPPORTED_UPDATE_OPERATION"),
        (
            json!({"$inc": {"name": 1}}),
            "UNSUPPORTED_UPDATE_OPERATION_TARGET",
        ),
        (
            json!({"$set": {"a": 1}, "$inc": {"a.b": 1}}),
            "UNSUPPORTED_UPDATE_OPERATION_PATH",
        ),
        (json!({}), "MISSING_UPDATE_OPERATIONS"),
    ] {
        let v = api
            .coll(
                "p",
                json!({"updateOne": {"filter": {"_id": "bob"}, "update": update}}),
            )
            .await;
        assert_eq!(error_code(&v), code, "{update}");
    }
}

#[tokio::test]
async fn update_many_pages_with_more_data() {
    let api = server().await;
    api.create("c", json!({})).await;
    for chunk in 0..2 {
        let docs: Vec<Value> = (0..60)
            .map(|i| json!({"_id": format!("{chunk}-{i:02}"), "g": i % 2}))
            .collect();
        api.insert_many("c", docs).await;
    }
    let v = api
        .coll(
            "c",
            json!({"updateMany": {"filter": {}, "update": {"$set": {"u": 1}}}}),
        )
        .await;
    let st = &v["status"];
    assert_eq!(
        (st["matchedCount"].clone(), st["modifiedCount"].clone()),
        (json!(50), json!(50))
    );
    assert_eq!(st["moreData"], true);
    let mut page_state = st["nextPageState"].as_str().expect("page state").to_owned();
    let mut total = 50;
    loop {
        let v = api
            .coll("c", json!({"updateMany": {"filter": {}, "update": {"$set": {"u": 1}}, "options": {"pageState": page_state}}}))
            .await;
        total += v["status"]["modifiedCount"].as_u64().expect("count");
        match v["status"]["nextPageState"].as_str() {
            Some(ps) => page_state = ps.to_owned(),
            None => {
                assert!(v["status"].get("moreData").is_none());
                break;
            }
        }
    }
    assert_eq!(total, 120);
    let v = api
        .coll("c", json!({"countDocuments": {"filter": {"u": 1}}}))
        .await;
    assert_eq!(v["status"]["count"], 120);
    // Small updateMany: no moreData; upsert when nothing matches.
    let v = api
        .coll("c", json!({"updateMany": {"filter": {"g": 7}, "update": {"$set": {"u": 2}}, "options": {"upsert": true}}}))
        .await;
    assert_eq!(v["status"]["matchedCount"], 0);
    assert!(v["status"]["upsertedId"].is_string());
}

#[tokio::test]
async fn find_one_and_update_replace_delete() {
    let api = server().await;
    seed_people(&api).await;
    let v = api
        .coll("p", json!({"findOneAndUpdate": {"filter": {"_id": "bob"}, "update": {"$inc": {"age": 1}}, "projection": {"age": 1}}}))
        .await;
    assert_eq!(
        v,
        json!({"data": {"document": {"_id": "bob", "age": 25}}, "status": {"matchedCount": 1, "modifiedCount": 1}})
    );
    let v = api
        .coll("p", json!({"findOneAndUpdate": {"filter": {"_id": "bob"}, "update": {"$inc": {"age": 1}}, "projection": {"age": 1}, "options": {"returnDocument": "after"}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": "bob", "age": 27}));
    let v = api
        .coll(
            "p",
            json!({"findOneAndUpdate": {"filter": {"_id": "nope"}, "update": {"$set": {"a": 1}}}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"data": {"document": null}, "status": {"matchedCount": 0, "modifiedCount": 0}})
    );
    let v = api
        .coll("p", json!({"findOneAndUpdate": {"filter": {"_id": "up"}, "update": {"$set": {"a": 1}}, "options": {"upsert": true, "returnDocument": "after"}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": "up", "a": 1}));
    assert_eq!(v["status"]["upsertedId"], "up");
    let v = api
        .coll("p", json!({"findOneAndUpdate": {"filter": {}, "update": {"$set": {"a": 1}}, "options": {"returnDocument": "later"}}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");

    // Sorted findOneAndUpdate picks the first by sort.
    let v = api
        .coll("p", json!({"findOneAndUpdate": {"filter": {"age": {"$exists": true}}, "sort": {"name": -1}, "update": {"$set": {"top": true}}, "projection": {"name": 1}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": "dan", "name": "Dan"}));

    let v = api
        .coll("p", json!({"findOneAndReplace": {"filter": {"_id": "cat"}, "replacement": {"name": "Kit"}, "options": {"returnDocument": "after"}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": "cat", "name": "Kit"}));
    assert_eq!(v["status"], json!({"matchedCount": 1, "modifiedCount": 1}));
    let v = api
        .coll("p", json!({"findOneAndReplace": {"filter": {"_id": "cat"}, "replacement": {"_id": "dog", "name": "Rex"}}}))
        .await;
    assert_eq!(error_code(&v), "DOCUMENT_REPLACE_DIFFERENT_DOCID");
    let v = api
        .coll("p", json!({"findOneAndReplace": {"filter": {"_id": "fox"}, "replacement": {"name": "Fox"}, "options": {"upsert": true}}}))
        .await;
    assert_eq!(v["data"]["document"], Value::Null);
    assert_eq!(v["status"]["upsertedId"], "fox");

    let v = api
        .coll(
            "p",
            json!({"findOneAndDelete": {"filter": {"_id": "fox"}, "projection": {"name": 1}}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"data": {"document": {"_id": "fox", "name": "Fox"}}, "status": {"deletedCount": 1}})
    );
    let v = api
        .coll("p", json!({"findOneAndDelete": {"filter": {"_id": "fox"}}}))
        .await;
    assert_eq!(
        v,
        json!({"data": {"document": null}, "status": {"deletedCount": 0}})
    );
}

#[tokio::test]
async fn deletes_and_counts() {
    let api = server().await;
    api.create("c", json!({})).await;
    for chunk in 0..11 {
        let docs: Vec<Value> = (0..100)
            .map(|i| json!({"_id": chunk * 100 + i, "g": i % 4}))
            .collect();
        api.insert_many("c", docs).await;
    }
    let v = api.coll("c", json!({"countDocuments": {}})).await;
    assert_eq!(v, json!({"status": {"count": 1000, "moreData": true}}));
    let v = api
        .coll("c", json!({"countDocuments": {"filter": {"g": 0}}}))
        .await;
    assert_eq!(v, json!({"status": {"count": 275}}));
    let v = api.coll("c", json!({"estimatedDocumentCount": {}})).await;
    assert_eq!(v, json!({"status": {"count": 1100}}));

    let v = api
        .coll(
            "c",
            json!({"deleteOne": {"filter": {"g": 1}, "sort": {"_id": -1}}}),
        )
        .await;
    assert_eq!(v, json!({"status": {"deletedCount": 1}}));
    let v = api
        .coll("c", json!({"findOne": {"filter": {"_id": 1097}}}))
        .await;
    assert_eq!(v["data"]["document"], Value::Null);
    let v = api
        .coll("c", json!({"deleteOne": {"filter": {"_id": -5}}}))
        .await;
    assert_eq!(v, json!({"status": {"deletedCount": 0}}));
    let v = api
        .coll(
            "c",
            json!({"deleteOne": {"filter": {}, "options": {"x": 1}}}),
        )
        .await;
    assert_eq!(error_code(&v), "COMMAND_ACCEPTS_NO_OPTIONS");

    // deleteMany: ≤20 per call with moreData, resend until done.
    let mut calls = 0;
    let mut deleted = 0;
    loop {
        let v = api
            .coll("c", json!({"deleteMany": {"filter": {"g": 2}}}))
            .await;
        calls += 1;
        let n = v["status"]["deletedCount"].as_u64().expect("count");
        assert!(n <= 20);
        deleted += n;
        if v["status"].get("moreData").is_none() {
            break;
        }
        assert_eq!(v["status"]["moreData"], true);
    }
    assert_eq!(deleted, 275);
    assert_eq!(calls, 14);
    let v = api.coll("c", json!({"deleteMany": {}})).await;
    assert_eq!(v, json!({"status": {"deletedCount": -1}}));
    let v = api.coll("c", json!({"estimatedDocumentCount": {}})).await;
    assert_eq!(v["status"]["count"], 0);
}

/// The commands of songrec's change feed, as the Astra backend sends them: `insertMany` with
/// `pending`, `updateMany` by `_id $in` with `$currentDate` + `$unset` over several pages, a
/// `$gt` on a `$date` inside `$or` with an equality and a boolean, `$exists: false`, and the
/// clock's `findOneAndUpdate` (upsert, `$setOnInsert`, `returnDocument: after`).
#[tokio::test]
async fn change_feed_commands() {
    let api = server().await;
    api.create("s", json!({"indexing": {"deny": ["meta"]}}))
        .await;
    let docs: Vec<Value> = (0..70)
        .map(
            |i| json!({"_id": format!("s{i:02}"), "deleted": false, "version": 1, "pending": true}),
        )
        .collect();
    api.insert_many("s", docs).await;
    api.insert_many(
        "s",
        vec![json!({"_id": "legacy", "deleted": true, "version": 3})],
    )
    .await;
    // Stamp 70 songs: 50 per page, then the rest with the page state.
    let ids: Vec<String> = (0..70).map(|i| format!("s{i:02}")).collect();
    let stamp = json!({"$currentDate": {"changed_at": true}, "$unset": {"pending": ""}});
    let body = json!({"updateMany": {"filter": {"_id": {"$in": ids}}, "update": stamp}});
    let v = api.coll("s", body.clone()).await;
    assert_eq!(v["status"]["matchedCount"], 50, "{v}");
    assert_eq!(v["status"]["moreData"], true, "{v}");
    let mut next = body.clone();
    next["updateMany"]["options"] = json!({"pageState": v["status"]["nextPageState"]});
    let v = api.coll("s", next).await;
    assert_eq!(v["status"]["matchedCount"], 20, "{v}");
    assert!(v["status"].get("moreData").is_none(), "{v}");
    let (stamped, _) = api
        .find_all("s", json!({"changed_at": {"$exists": true}}))
        .await;
    assert_eq!(stamped.len(), 70);
    assert!(stamped.iter().all(|d| d.get("pending").is_none()));
    let times: Vec<i64> = stamped
        .iter()
        .map(|d| d["changed_at"]["$date"].as_i64().expect("a $date"))
        .collect();
    let (lo, hi) = (
        *times.iter().min().unwrap_or(&0),
        *times.iter().max().unwrap_or(&0),
    );
    // Documents of older versions: no stamp.
    let (old, _) = api
        .find_all(
            "s",
            json!({"deleted": {"$in": [true, false]}, "changed_at": {"$exists": false}}),
        )
        .await;
    assert_eq!(ids_of(&old), vec!["legacy"]);

    // The clock: created once (epoch kept), its time moves on.
    let clock = json!({"findOneAndUpdate": {
        "filter": {"_id": "sync:clock"},
        "update": {"$currentDate": {"at": true}, "$setOnInsert": {"epoch": "e1"}},
        "projection": {"at": 1, "epoch": 1},
        "options": {"upsert": true, "returnDocument": "after"},
    }});
    let v = api.coll("s", clock.clone()).await;
    let d = &v["data"]["document"];
    assert_eq!(d["epoch"], "e1", "{v}");
    let at = d["at"]["$date"].as_i64().expect("a $date");
    assert!(at >= hi, "server time moves forward: {at} < {hi}");
    let mut again = clock.clone();
    again["findOneAndUpdate"]["update"]["$setOnInsert"]["epoch"] = json!("e2");
    let v = api.coll("s", again).await;
    assert_eq!(v["data"]["document"]["epoch"], "e1", "{v}");

    // The feed read: the clock, songs changed after a time, pending songs.
    api.insert_many(
        "s",
        vec![json!({"_id": "p1", "deleted": false, "pending": true})],
    )
    .await;
    let feed = |from: i64| {
        json!({"$or": [
            {"_id": "sync:clock"},
            {"changed_at": {"$gt": {"$date": from}}},
            {"pending": true},
        ]})
    };
    let (all, pages) = api.find_all("s", feed(lo - 1)).await;
    assert_eq!((all.len(), pages), (72, 2), "70 stamped, the clock, p1");
    let (few, pages) = api.find_all("s", feed(hi)).await;
    let mut got = ids_of(&few);
    got.sort();
    assert_eq!((got, pages), (vec!["p1", "sync:clock"], 1));
}

fn ids_of(docs: &[Value]) -> Vec<&str> {
    docs.iter().filter_map(|d| d["_id"].as_str()).collect()
}
