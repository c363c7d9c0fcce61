//! The envelope in JSON and XML, `.view` and forms, every way of signing in, every error code,
//! the lockout per user and address, and `/api/v1` behind the Subsonic credentials when the
//! server listens beyond loopback.

use md5::Digest;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_in_json_and_xml_with_or_without_view() {
    let srv = serve_real(|_| {}).await;
    for endpoint in ["ping", "ping.view"] {
        let v = call(&srv, endpoint, "v=1.16.1&c=test").await;
        assert_eq!(v["version"], "1.16.1");
        assert_eq!(v["type"], "songrec");
        assert_eq!(v["openSubsonic"], true);
        assert_eq!(v["serverVersion"], env!("CARGO_PKG_VERSION"));
    }
    // XML is the default.
    let (xml, ct) = raw(&srv, "ping.view", &signed()).await;
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><subsonic-response xmlns="http://subsonic.org/restapi""#), "{xml}");
    assert!(
        xml.contains(r#"status="ok""#) && xml.contains(r#"openSubsonic="true""#),
        "{xml}"
    );
    // Nested shapes: a directory with child elements and attributes.
    let songs = all_songs(&srv).await;
    let album = song_from(&songs, "02 Complete.oga")["albumId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (xml, _) = raw(
        &srv,
        "getMusicDirectory",
        &format!("{}&id={album}", signed()),
    )
    .await;
    assert!(
        xml.contains("<directory ") && xml.contains(&format!(r#"id="{album}""#)),
        "{xml}"
    );
    assert_eq!(xml.matches("<child ").count(), 8, "{xml}");
    assert!(xml.contains(r#"title="Complete""#), "{xml}");
    // Errors are HTTP 200 with status="failed" in XML too.
    let (xml, _) = raw(&srv, "ping", "u=ann&p=wrong").await;
    assert!(
        xml.contains(r#"status="failed""#) && xml.contains(r#"<error code="40""#),
        "{xml}"
    );
    // JSONP.
    let (js, ct) = raw(&srv, "ping", &format!("{}&f=jsonp&callback=cb", signed())).await;
    assert!(
        ct.starts_with("application/javascript") && js.starts_with("cb({\"subsonic-response\""),
        "{js}"
    );
    let (js, _) = raw(
        &srv,
        "ping",
        &format!("{}&f=jsonp&callback=app.$on_1", signed()),
    )
    .await;
    assert!(js.starts_with("app.$on_1({"), "{js}");
    // Only a JavaScript name (or a dotted path of them) is called: anything else is refused,
    // in XML, and never echoed as code.
    for bad in [
        "1",
        "..",
        "a.",
        "1abc",
        "a-b",
        "alert(1)",
        "a%0Ab",
        "x%3Bdelete",
    ] {
        let (xml, ct) = raw(
            &srv,
            "ping",
            &format!("{}&f=jsonp&callback={bad}", signed()),
        )
        .await;
        assert!(ct.starts_with("text/xml"), "{bad}: {ct}");
        assert!(xml.contains(r#"<error code="10""#), "{bad}: {xml}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_forms_are_read() {
    let srv = serve_real(|_| {}).await;
    let c = reqwest::Client::new();
    let post = |body: String| {
        c.post(srv.url("/rest/getSong.view"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let songs = all_songs(&srv).await;
    let id = songs[0]["id"].as_str().unwrap();
    let v: Value = post(format!("{}&f=json&id={id}", signed()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["subsonic-response"]["song"]["id"], id, "{v}");
    // Query and form together: the query's f, the form's credentials.
    let r = post_form(
        &srv.url("/rest/ping?f=json"),
        &[("u", USER), ("p", PASSWORD)],
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["subsonic-response"]["status"], "ok", "{v}");
    // Media types are case-insensitive.
    let v: Value = c
        .post(srv.url("/rest/ping.view"))
        .header(
            "content-type",
            "Application/X-WWW-Form-Urlencoded; Charset=UTF-8",
        )
        .body(format!("{}&f=json", signed()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["subsonic-response"]["status"], "ok", "{v}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_of_signing_in_and_every_error_code() {
    let srv = serve_real(|_| {}).await;
    // Password, plain and `enc:` (either case of hex).
    call(&srv, "ping", "").await;
    let hex_pw = hex::encode(PASSWORD);
    for p in [hex_pw.clone(), hex_pw.to_uppercase()] {
        let v = answer(&srv, "ping", &format!("u={USER}&p=enc:{p}")).await;
        assert_eq!(v["status"], "ok", "{v}");
    }
    // Token: md5(password + salt).
    let salt = "c19b2d";
    let token = hex::encode(md5::Md5::digest(format!("{PASSWORD}{salt}").as_bytes()));
    let v = answer(&srv, "ping", &format!("u={USER}&t={token}&s={salt}")).await;
    assert_eq!(v["status"], "ok", "{v}");
    // API key, without u.
    let v = answer(&srv, "ping", &format!("apiKey={API_KEY}")).await;
    assert_eq!(v["status"], "ok", "{v}");

    let cases: &[(&str, u64)] = &[
        ("", 10),
        ("u=ann", 10),
        (&format!("u=ann&t={token}"), 10),
        ("p=x", 10),
        ("u=ann&p=wrong", 40),
        ("u=bob&p=open+sesame%21", 40),
        ("u=ann&p=enc:6f70", 40),
        ("u=ann&p=enc:zz", 40),
        (&format!("u={USER}&t={token}&s=other"), 40),
        (&format!("u={USER}&p=x&t={token}&s={salt}"), 43),
        (&format!("u={USER}&apiKey={API_KEY}"), 43),
        ("apiKey=nope", 44),
    ];
    for (q, code) in cases {
        let (got, msg) = fails(&srv, "ping", q).await;
        assert_eq!(got, *code, "{q}: {msg}");
    }
    // 50: another user; 70: unknown ids; 0: an unknown call, a bad number.
    assert_eq!(
        fails(&srv, "getUser", &format!("{}&username=bob", signed()))
            .await
            .0,
        50
    );
    let me = call(&srv, "getUser", &format!("username={USER}")).await;
    assert_eq!(me["user"]["streamRole"], true, "{me}");
    for (endpoint, q) in [
        ("getSong", "id=0000"),
        ("getSong", &*format!("id={}", "a".repeat(64))),
        ("getAlbum", "id=al-0000000000000000"),
        ("getArtist", "id=ar-0000000000000000"),
        ("getMusicDirectory", "id=1"),
        ("stream", "id=../../etc/passwd"),
        ("getCoverArt", "id=al-1"),
    ] {
        let (code, msg) = fails(&srv, endpoint, &format!("{}&{q}", signed())).await;
        assert_eq!(code, 70, "{endpoint}?{q}: {msg}");
    }
    assert_eq!(fails(&srv, "getSong", &signed()).await.0, 10);
    assert_eq!(fails(&srv, "createUser", &signed()).await.0, 0);
    let (code, msg) = fails(&srv, "getRandomSongs", &format!("{}&size=x", signed())).await;
    assert_eq!(code, 10, "{msg}");
    assert!(msg.contains("size"), "{msg}");
    // The extension list needs no sign-in.
    let v = answer(&srv, "getOpenSubsonicExtensions", "").await;
    let names: Vec<&str> = v["openSubsonicExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["apiKeyAuthentication", "formPost", "sonicSimilarity"]
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_user_nobody_signs_in() {
    let srv = serve_real(|o| o.subsonic.credentials = Credentials::default()).await;
    let (code, msg) = fails(&srv, "ping", &signed()).await;
    assert_eq!(code, 42, "{msg}");
    assert!(msg.contains("SONGREC_SUBSONIC_PASSWORD"), "{msg}");
    assert_eq!(
        fails(&srv, "ping", &format!("apiKey={API_KEY}")).await.0,
        42
    );
    let v = answer(&srv, "getOpenSubsonicExtensions", "").await;
    assert_eq!(v["status"], "ok");
    // A password alone is not enough with only a key configured, and the other way round.
    let key_only = serve_real(|o| o.subsonic.credentials.password = Secret::default()).await;
    assert_eq!(fails(&key_only, "ping", &signed()).await.0, 42);
    call_with_key(&key_only).await;
    let no_key = serve_real(|o| o.subsonic.credentials.api_key = Secret::default()).await;
    assert_eq!(
        fails(&no_key, "ping", &format!("apiKey={API_KEY}")).await.0,
        42
    );
    for s in [srv, key_only, no_key] {
        s.stop().await;
    }
}

async fn call_with_key(srv: &Running) {
    let v = answer(srv, "ping", &format!("apiKey={API_KEY}")).await;
    assert_eq!(v["status"], "ok", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_users_failures_lock_out_that_user_only_until_the_address_ceiling() {
    let srv = serve_real(|o| {
        o.subsonic.max_failures = 3;
        o.subsonic.max_address_failures = 8;
    })
    .await;
    // Missing parameters are not failed sign-ins.
    for _ in 0..5 {
        assert_eq!(fails(&srv, "ping", "").await.0, 10);
    }
    call(&srv, "ping", "").await;
    // Guessed user names, two tries each: below the address's ceiling nobody else waits.
    for name in ["bob", "eve"] {
        for _ in 0..2 {
            assert_eq!(
                fails(&srv, "ping", &format!("u={name}&p=guess")).await.0,
                40
            );
        }
    }
    call(&srv, "ping", "").await;
    // Three wrong passwords of ann (a stale player): ann waits at this address, even with the
    // right password, saying why...
    for _ in 0..3 {
        assert_eq!(fails(&srv, "ping", "u=ann&p=guess&c=stale").await.0, 40);
    }
    let (code, msg) = fails(&srv, "ping", &signed()).await;
    assert_eq!(code, 40);
    assert!(msg.contains("too many failed sign-ins for user"), "{msg}");
    // ...but the API key (another claim) still signs in from the same address.
    call_with_key(&srv).await;
    // One more failure reaches the address's ceiling (4 + 3 + 1 = 8): now every claim waits.
    assert_eq!(fails(&srv, "ping", "u=mallory&p=x").await.0, 40);
    let (code, msg) = fails(&srv, "ping", &format!("apiKey={API_KEY}")).await;
    assert_eq!(code, 40);
    assert!(
        msg.contains("too many failed sign-ins from this address"),
        "{msg}"
    );
    // The list of extensions stays public.
    assert_eq!(
        answer(&srv, "getOpenSubsonicExtensions", "").await["status"],
        "ok"
    );
    srv.stop().await;
}

/// A server listening on every address (`0.0.0.0`, port 0) with `tweak`, and its loopback URL.
async fn serve_public(tweak: impl FnOnce(&mut ServerOptions)) -> (Running, String) {
    let srv = serve_real(|o| {
        o.bind = "0.0.0.0:0".parse().unwrap();
        o.public = true;
        tweak(o);
    })
    .await;
    let base = format!("http://127.0.0.1:{}", srv.addr.port());
    (srv, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_api_requires_the_subsonic_credentials() {
    let (srv, base) = serve_public(|o| o.subsonic.max_failures = 3).await;
    assert_eq!(srv.state.access, songrec_server::guard::Access::SignedIn);
    let c = reqwest::Client::new();
    let songs = all_songs(&srv).await;
    let id = songs[0]["id"].as_str().unwrap().to_owned();
    let paths = [
        "/".to_owned(),
        "/api/v1/songs".to_owned(),
        format!("/api/v1/songs/{id}"),
        format!("/api/v1/songs/{id}/audio"),
        "/api/v1/stats".to_owned(),
        "/metrics".to_owned(),
    ];
    for path in &paths {
        let r = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let asks = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(asks.starts_with("Basic realm=\"songrec\""), "{asks}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized", "{v}");
        // With the Subsonic user and password (HTTP Basic), or the API key.
        let r = c
            .get(format!("{base}{path}"))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let r = c
            .get(format!("{base}{path}"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // The audio, whole, to a signed-in browser.
    let audio = c
        .get(format!("{base}/api/v1/songs/{id}/audio"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(audio.len() > 1000);
    // /healthz and the Subsonic API (its own sign-in) need no Basic.
    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = c
        .get(format!("{base}/rest/ping?f=json&{}", signed()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["subsonic-response"]["status"], "ok", "{v}");
    // Wrong ones are refused and counted with the Subsonic sign-ins: after three wrong
    // passwords ann waits (429) on both doors, and the key still works.
    for wrong in ["nope", "also nope", "still nope"] {
        let r = c
            .get(format!("{base}/api/v1/songs"))
            .basic_auth(USER, Some(wrong))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let text = r.text().await.unwrap();
        assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
    }
    let r = c
        .get(format!("{base}/api/v1/songs"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = c
        .get(format!("{base}/rest/ping?f=json&{}", signed()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["subsonic-response"]["error"]["code"], 40, "{v}");
    let r = c
        .get(format!("{base}/api/v1/songs"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_without_credentials_needs_the_stated_choice() {
    let backend = || {
        Arc::new(songrec_local::LocalBackend::open(&real_library().root).unwrap())
            as Arc<dyn songrec_storage::StorageBackend>
    };
    let mut opts = ServerOptions::new("0.0.0.0:0".parse().unwrap());
    opts.public = true;
    let e = songrec_server::Server::bind(backend(), opts.clone())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(e, songrec_server::ServerError::OpenWithoutCredentials(_)),
        "{e}"
    );
    assert!(e.to_string().contains("--public-read"), "{e}");
    // Stated: open to anyone reachable, /rest/ still signs in.
    let (srv, base) = serve_public(|o| {
        o.public = false;
        o.public_read = true;
    })
    .await;
    assert_eq!(srv.state.access, songrec_server::guard::Access::PublicRead);
    let r = reqwest::get(format!("{base}/api/v1/songs")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = reqwest::get(format!("{base}/rest/ping?f=json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["subsonic-response"]["status"], "failed", "{v}");
    // Loopback stays open as before, credentials or not.
    let local = serve_real(|_| {}).await;
    let r = reqwest::get(local.url("/api/v1/songs")).await.unwrap();
    assert_eq!(r.status(), 200);
    for s in [srv, local] {
        s.stop().await;
    }
}
