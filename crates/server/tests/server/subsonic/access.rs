//! The envelope in JSON and XML, `.view` and forms, every way of signing in, every error code,
//! and the address that fails too often.

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
    assert_eq!(code, 0, "{msg}");
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
async fn an_address_that_fails_too_often_waits() {
    let srv = serve_real(|o| o.subsonic.max_failures = 3).await;
    // Missing parameters are not failed sign-ins.
    for _ in 0..5 {
        assert_eq!(fails(&srv, "ping", "").await.0, 10);
    }
    call(&srv, "ping", "").await;
    for _ in 0..3 {
        assert_eq!(fails(&srv, "ping", "u=ann&p=guess").await.0, 40);
    }
    // Now even the right password is refused, saying why.
    let (code, msg) = fails(&srv, "ping", &signed()).await;
    assert_eq!(code, 40);
    assert!(msg.contains("too many failed sign-ins"), "{msg}");
    assert_eq!(
        fails(&srv, "ping", &format!("apiKey={API_KEY}")).await.0,
        40
    );
    // The list of extensions stays public.
    assert_eq!(
        answer(&srv, "getOpenSubsonicExtensions", "").await["status"],
        "ok"
    );
    srv.stop().await;
}
