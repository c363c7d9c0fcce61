//! Command dispatch and the database/keyspace-level commands.

mod catalog;
mod fields;
mod limits;
mod read;
mod response;
mod select;
mod write;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::{ApiResult, Code, err};
use crate::schema::CollectionDef;
use crate::store::{self, Collection, Store, db_error};

use catalog::{CollRef, unknown_keyspace};
use fields::{check_fields, opt_bool, options, required_name};
pub(crate) use limits::{Limits, MAX_SORT_CANDIDATES};
pub(crate) use response::Response;

/// Which URL a command was sent to.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Database,
    Keyspace(String),
    Collection(String, String),
}

const DATABASE_COMMANDS: &[&str] = &["createKeyspace", "dropKeyspace", "findKeyspaces"];
const KEYSPACE_COMMANDS: &[&str] = &["createCollection", "deleteCollection", "findCollections"];
const COLLECTION_COMMANDS: &[&str] = &[
    "countDocuments",
    "deleteMany",
    "deleteOne",
    "estimatedDocumentCount",
    "find",
    "findOne",
    "findOneAndDelete",
    "findOneAndReplace",
    "findOneAndUpdate",
    "insertMany",
    "insertOne",
    "updateMany",
    "updateOne",
];

/// Split a request body into its command name and command object.
pub(crate) fn split_command(request: Value) -> ApiResult<(String, Map<String, Value>)> {
    let Value::Object(top) = request else {
        return Err(err(
            Code::REQUEST_STRUCTURE_MISMATCH,
            "Request is valid JSON but has a structural mismatch: request body must be a JSON Object holding one command.",
        ));
    };
    if top.len() != 1 {
        return Err(err(
            if top.is_empty() {
                Code::COMMAND_UNKNOWN
            } else {
                Code::REQUEST_STRUCTURE_MISMATCH
            },
            format!(
                "Request is valid JSON but has a structural mismatch: request body must hold exactly one command, found {}.",
                top.len()
            ),
        ));
    }
    let Some((name, body)) = top.into_iter().next() else {
        return Err(err(Code::COMMAND_UNKNOWN, "No command."));
    };
    let body = match body {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(err(
                Code::REQUEST_STRUCTURE_MISMATCH,
                format!(
                    "Request is valid JSON but has a structural mismatch: command '{name}' must be a JSON Object, not {}.",
                    crate::json::type_name(&other)
                ),
            ));
        }
    };
    Ok((name, body))
}

/// Run one command against the store.
pub(crate) fn execute(
    store: &Store,
    limits: &Limits,
    target: &Target,
    name: &str,
    body: &Map<String, Value>,
) -> Response {
    let (known, kind) = match target {
        Target::Database => (DATABASE_COMMANDS, "database command"),
        Target::Keyspace(_) => (KEYSPACE_COMMANDS, "keyspace command"),
        Target::Collection(..) => (COLLECTION_COMMANDS, "collection command"),
    };
    if !known.contains(&name) {
        return Response::from_error(err(
            Code::COMMAND_UNKNOWN,
            format!(
                "Command '{name}' is not a {kind} recognized by Data API. Data API supports following {kind}s: [{}].",
                known.join(", ")
            ),
        ));
    }
    let result = match target {
        Target::Database => database_command(store, name, body),
        Target::Keyspace(ks) => keyspace_command(store, limits, ks, name, body),
        Target::Collection(ks, coll) => collection_command(store, limits, ks, coll, name, body),
    };
    result.unwrap_or_else(Response::from_error)
}

fn collection_command(
    store: &Store,
    limits: &Limits,
    ks: &str,
    coll: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    let t = CollRef {
        store,
        ks,
        coll_name: coll,
        sort_cap: limits.max_sort_count,
    };
    match name {
        "find" => read::find(t, limits, body),
        "findOne" => read::find_one(t, body),
        "countDocuments" => read::count_documents(t, body),
        "estimatedDocumentCount" => read::estimated_count(t, body),
        "insertOne" => write::insert_one(t, body),
        "insertMany" => write::insert_many(t, body),
        "updateOne" => write::update_one(t, body),
        "updateMany" => write::update_many(t, limits, body),
        "findOneAndUpdate" => write::find_one_and_update(t, body),
        "findOneAndReplace" => write::find_one_and_replace(t, body),
        "findOneAndDelete" => write::find_one_and_delete(t, body),
        "deleteOne" => write::delete_one(t, body),
        "deleteMany" => write::delete_many(t, body),
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}

// ---------------------------------------------------------------------------
// Database-level commands (keyspaces)

fn database_command(store: &Store, name: &str, body: &Map<String, Value>) -> ApiResult<Response> {
    match name {
        "findKeyspaces" => {
            check_fields(body, &["options"])?;
            let cat = store.read();
            let names: Vec<&String> = cat.keyspaces.keys().collect();
            Ok(Response::status(json!({ "keyspaces": names })))
        }
        "createKeyspace" => {
            check_fields(body, &["name", "options"])?;
            let ks = required_name(body)?;
            let (mut cat, conn) = store.write();
            if !cat.keyspaces.contains_key(ks) {
                store::persist_keyspace(&conn, ks).map_err(db_error)?;
                cat.keyspaces.insert(ks.to_owned(), BTreeMap::new());
            }
            Ok(Response::ok())
        }
        "dropKeyspace" => {
            check_fields(body, &["name"])?;
            let ks = required_name(body)?;
            let (mut cat, mut conn) = store.write();
            if cat.keyspaces.contains_key(ks) {
                store::persist_drop_keyspace(&mut conn, ks).map_err(db_error)?;
                cat.keyspaces.remove(ks);
            }
            Ok(Response::ok())
        }
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}

// ---------------------------------------------------------------------------
// Keyspace-level commands (collections)

fn keyspace_command(
    store: &Store,
    limits: &Limits,
    ks: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    match name {
        "createCollection" => {
            check_fields(body, &["name", "options"])?;
            let coll = required_name(body)?;
            let def = CollectionDef::from_options(body.get("options"))?;
            let (mut cat, conn) = store.write();
            let count = cat.collection_count();
            let space = cat
                .keyspaces
                .get_mut(ks)
                .ok_or_else(|| unknown_keyspace(ks))?;
            if let Some(existing) = space.get(coll) {
                return if existing.def.same_settings(&def) {
                    Ok(Response::ok())
                } else {
                    Err(err(
                        Code::EXISTING_COLLECTION_DIFFERENT_SETTINGS,
                        format!(
                            "Collection '{coll}' already exists but with settings different from ones passed with 'createCollection' command."
                        ),
                    ))
                };
            }
            if count >= limits.max_collections {
                return Err(err(
                    Code::TOO_MANY_COLLECTIONS,
                    format!(
                        "Cannot create collection '{coll}': the maximum number of collections per database is {}, database already has {count}.",
                        limits.max_collections
                    ),
                ));
            }
            store::persist_collection(&conn, ks, coll, &def.to_options_json()).map_err(db_error)?;
            space.insert(
                coll.to_owned(),
                Collection {
                    def,
                    docs: BTreeMap::new(),
                },
            );
            Ok(Response::ok())
        }
        "findCollections" => {
            check_fields(body, &["options"])?;
            let opts = options(body, &["explain"])?;
            let explain = opt_bool(&opts, "explain")?;
            let cat = store.read();
            let space = cat.keyspaces.get(ks).ok_or_else(|| unknown_keyspace(ks))?;
            let list: Vec<Value> = space
                .iter()
                .map(|(n, c)| {
                    if explain {
                        json!({"name": n, "options": c.def.to_options_json()})
                    } else {
                        json!(n)
                    }
                })
                .collect();
            Ok(Response::status(json!({ "collections": list })))
        }
        "deleteCollection" => {
            check_fields(body, &["name"])?;
            let coll = required_name(body)?;
            let (mut cat, mut conn) = store.write();
            let space = cat
                .keyspaces
                .get_mut(ks)
                .ok_or_else(|| unknown_keyspace(ks))?;
            if space.contains_key(coll) {
                store::persist_drop_collection(&mut conn, ks, coll).map_err(db_error)?;
                space.remove(coll);
            }
            Ok(Response::ok())
        }
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}
