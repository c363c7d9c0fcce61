//! Data API client errors and retries against the scripted server: soft errors, write errors,
//! unauthorized answers, rate limits, gateway pages, timeouts and deadlines.

use std::time::Duration;

use serde_json::json;
use songrec_astra::dataapi::{
    DataApiClient, DataApiConfig, DataApiError, DocumentCount, ErrorKind, FindOptions,
    UpdateOptions,
};
use songrec_astra::secret::Secret;

use super::support::{Reply, ScriptedServer};
use super::{
    TOKEN, client, config, count_all, err, estimate, fast_retry, listing_error, update_a_error,
};

// ---------------------------------------------------------------------------------------
// errors

type Check = fn(&DataApiError) -> bool;

#[tokio::test]
async fn soft_errors_map_old_and_new_codes_to_the_same_variant() {
    // Each old code and its new spelling must map to the same variant.
    let cases: [([&str; 2], Check); 4] = [
        (
            ["UNKNOWN_COLLECTION_OR_TABLE", "COLLECTION_NOT_EXIST"],
            |e| matches!(e, DataApiError::CollectionNotFound(_)),
        ),
        (["INVALID_VECTOR_LENGTH", "VECTOR_SIZE_MISMATCH"], |e| {
            matches!(e, DataApiError::VectorDimensionMismatch(_))
        }),
        (["UNKNOWN_KEYSPACE", "KEYSPACE_DOES_NOT_EXIST"], |e| {
            matches!(e, DataApiError::KeyspaceNotFound(_))
        }),
        (["OVERLOADED_SORT_ROW_LIMIT", "DATASET_TOO_BIG"], |e| {
            e.kind() == Some(ErrorKind::SortRowLimit)
        }),
    ];
    let cases = cases
        .into_iter()
        .flat_map(|(codes, check)| codes.map(|code| (code, check)));
    for (code, check) in cases {
        let code_owned = code.to_string();
        let server = ScriptedServer::start(move |_, _| {
            // Reads with errors omit `data`.
            Reply::Json(json!({"errors": [err(&code_owned)]}))
        })
        .await;
        let c = client(&server);
        let e = c
            .collection("songs")
            .find_one(json!({}), FindOptions::default())
            .await
            .expect_err("should fail");
        assert!(check(&e), "{code}: {e:?}");
        let first = e.failure().and_then(|f| f.errors.first());
        assert_eq!(first.and_then(|f| f.error_code.as_deref()), Some(code));
        assert!(e.to_string().contains(code), "{e}");
        // Not transient: exactly one request.
        assert_eq!(c.requests_sent(), 1, "{code}");
    }
}

#[tokio::test]
async fn existing_collection_with_different_settings() {
    let server = ScriptedServer::always(Reply::Json(
        json!({"errors": [err("EXISTING_COLLECTION_DIFFERENT_SETTINGS")]}),
    ))
    .await;
    let c = client(&server);
    let create =
        json!({"createCollection": {"name": "songs", "options": {"vector": {"dimension": 8}}}});
    let e = c
        .run_command(None, &create, true)
        .await
        .expect_err("should fail");
    assert!(
        matches!(e, DataApiError::ExistingCollectionDifferentSettings(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn write_errors_keep_partial_status_and_warnings_do_not_fail() {
    let server = ScriptedServer::start(|r, _| match r.command().as_str() {
        "updateOne" => Reply::Json(json!({
            "status": {"matchedCount": 1, "modifiedCount": 0},
            "errors": [err("SHRED_DOC_LIMIT_VIOLATION")]
        })),
        _ => Reply::Json(json!({
            "status": {"count": 3, "warnings": [{"scope": "WARNING", "errorCode": "DEPRECATED_COMMAND", "message": "old"}]}
        })),
    })
    .await;
    let c = client(&server);
    let songs = c.collection("songs");
    let e = update_a_error(&c, json!({"$set": {"x": 1}}), UpdateOptions::default()).await;
    assert_eq!(e.kind(), Some(ErrorKind::InvalidDocument));
    let status = e
        .failure()
        .and_then(|f| f.status.as_ref())
        .expect("partial status kept");
    assert_eq!(status.get("matchedCount"), Some(&json!(1)));
    assert_eq!(
        songs
            .count_documents(json!({}))
            .await
            .expect("warning only"),
        DocumentCount::Exact(3)
    );
}

#[tokio::test]
async fn unauthorized_mentions_env_var_but_never_the_token() {
    for (status, body) in [
        (
            401,
            json!({"errors": [{"errorCode": "UNAUTHENTICATED_REQUEST", "message": format!("bad token {TOKEN}")}]}),
        ),
        (403, json!({"message": "Forbidden"})),
    ] {
        let server =
            ScriptedServer::always(Reply::raw(status, "application/json", &body.to_string())).await;
        let c = client(&server);
        let e = estimate(&c).await.expect_err("should fail");
        assert!(matches!(e, DataApiError::Unauthorized { .. }), "{e:?}");
        let text = format!("{e} / {e:?}");
        assert!(text.contains("ASTRA_DB_APPLICATION_TOKEN"), "{text}");
        assert!(!text.contains("test-token"), "{text}");
        assert_eq!(c.requests_sent(), 1, "auth failures are not retried");
    }
    // A soft (HTTP 200) auth error maps to the same variant.
    let e = listing_error(Reply::Json(
        json!({"errors": [err("MISSING_AUTHENTICATION_TOKEN")]}),
    ))
    .await;
    assert!(
        matches!(
            e,
            DataApiError::Unauthorized {
                http_status: 200,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn token_echoed_in_error_message_is_scrubbed() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({"errors": [{"errorCode": "FILTER_INVALID_EXPRESSION", "message": format!("weird {TOKEN} echo")}]}))
    })
    .await;
    let e = client(&server)
        .collection("songs")
        .find_one(json!({"a": 1}), FindOptions::default())
        .await
        .expect_err("should fail");
    let text = format!("{e} / {e:?}");
    assert!(!text.contains("test-token"), "{text}");
    assert!(text.contains("weird *** echo"), "{text}");
}

// ---------------------------------------------------------------------------------------
// retries

#[tokio::test]
async fn rate_limit_then_success_is_retried_and_counted() {
    let server = ScriptedServer::fails_then(
        1,
        Reply::Raw {
            status: 429,
            content_type: "text/plain",
            body: "Too Many Requests".into(),
            headers: vec![("retry-after", "0".into())],
        },
        Reply::Json(json!({"status": {"count": 5}})),
    )
    .await;
    let c = client(&server);
    let n = estimate(&c).await.expect("retried");
    assert_eq!(n, 5);
    assert_eq!(c.requests_sent(), 2);
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn gateway_html_503_then_success() {
    let server = ScriptedServer::fails_then(
        2,
        Reply::raw(
            503,
            "text/html",
            "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        ),
        Reply::Json(json!({"data": {"documents": [{"_id": 1}], "nextPageState": null}})),
    )
    .await;
    let c = client(&server);
    let docs = c
        .collection("songs")
        .find(json!({}), FindOptions::default())
        .collect_all()
        .await
        .expect("retried");
    assert_eq!(docs, vec![json!({"_id": 1})]);
    assert_eq!(c.requests_sent(), 3);
}

#[tokio::test]
async fn database_scope_soft_errors_are_retried() {
    let server = ScriptedServer::fails_then(
        1,
        Reply::Json(json!({"errors": [{"family": "SERVER", "scope": "DATABASE",
            "errorCode": "TIMEOUT_READING_DATA", "message": "safe to retry"}]})),
        Reply::Json(json!({"status": {"count": 2}})),
    )
    .await;
    let c = client(&server);
    let n = count_all(&c, "retried").await;
    assert_eq!(n, DocumentCount::Exact(2));
    assert_eq!(c.requests_sent(), 2);
}

#[tokio::test]
async fn repeated_503_gives_one_clear_unavailable_error() {
    let server = ScriptedServer::always(Reply::raw(
        503,
        "text/html",
        "<html>upstream unavailable</html>",
    ))
    .await;
    let c = client(&server);
    let e = estimate(&c).await.expect_err("should fail");
    assert!(
        matches!(e, DataApiError::DatabaseUnavailable { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("hibernated") && msg.contains("503"), "{msg}");
    assert_eq!(c.requests_sent(), 5, "1 attempt + 4 retries");
}

#[tokio::test]
async fn connection_refused_gives_the_same_unavailable_error() {
    // Reserve a port, then close it so nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let c = DataApiClient::new(
        DataApiConfig::new(format!("http://{addr}"), Secret::new(TOKEN)).with_retry(fast_retry()),
    )
    .expect("client");
    let e = c.find_collections(false).await.expect_err("should fail");
    assert!(
        matches!(e, DataApiError::DatabaseUnavailable { .. }),
        "{e:?}"
    );
    let text = format!("{e} {e:?}");
    assert!(text.contains("hibernated"), "{text}");
    assert!(!text.contains("test-token"), "{text}");
}

#[tokio::test]
async fn non_idempotent_update_is_not_retried() {
    let server =
        ScriptedServer::always(Reply::raw(502, "text/html", "<html>bad gateway</html>")).await;
    let c = client(&server);
    let e = update_a_error(&c, json!({"$inc": {"plays": 1}}), UpdateOptions::default()).await;
    assert!(
        matches!(
            e,
            DataApiError::Gateway {
                http_status: 502,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(c.requests_sent(), 1);
    // An idempotent upsert by id is retried.
    let e = update_a_error(&c, json!({"$set": {"x": 1}}), UpdateOptions::upsert()).await;
    assert!(matches!(e, DataApiError::Gateway { .. }), "{e:?}");
    assert_eq!(c.requests_sent(), 1 + 5);
}

#[tokio::test]
async fn operation_deadline_bounds_retries_of_hanging_requests() {
    let server = ScriptedServer::start(|_, _| Reply::Hang).await;
    let c = DataApiClient::new(
        config(&server)
            .with_request_timeout(Duration::from_millis(200))
            .with_operation_timeout(Duration::from_millis(700))
            .with_retry(fast_retry().with_max_retries(100)),
    )
    .expect("client");
    let e = estimate(&c).await.expect_err("should time out");
    assert!(matches!(e, DataApiError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("last error"), "{e}");
    assert!(c.requests_sent() >= 2, "request timeouts were retried");
}

#[tokio::test]
async fn wrong_path_prefix_404_hints_at_api_path() {
    let e = listing_error(Reply::raw(404, "text/plain", "Not Found")).await;
    assert!(
        matches!(
            e,
            DataApiError::Http {
                http_status: 404,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("api_path"), "{e}");
}

#[tokio::test]
async fn non_json_200_is_a_decode_error() {
    let e = listing_error(Reply::raw(200, "text/html", "<html>captive portal</html>")).await;
    assert!(matches!(e, DataApiError::Decode(_)), "{e:?}");
    assert!(e.to_string().contains("captive portal"), "{e}");
}
