//! The fault proxy against a real upstream on 127.0.0.1: what reaches the upstream and what
//! the client sees, for each fault, before and after forwarding, and the freeze point.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use songrec_devservers::{Fault, FaultKind, FaultPlan, FaultProxy, Rule, When};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that counts requests and answers `200` with the count.
async fn upstream() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head and a Content-Length body.
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            break;
                        }
                    }
                }
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                let body = n.to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, count)
}

/// Sends one POST; returns the status line and body, or the I/O error kind; `None` on timeout.
async fn post(
    proxy: &FaultProxy,
    body: &str,
) -> Option<Result<(String, String), std::io::ErrorKind>> {
    let fut = async {
        let mut s = TcpStream::connect(proxy.addr())
            .await
            .map_err(|e| e.kind())?;
        let req = format!(
            "POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.map_err(|e| e.kind())?;
        let mut resp = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => {
                    resp.extend_from_slice(&chunk[..n]);
                    let t = String::from_utf8_lossy(&resp).to_string();
                    if let Some(i) = t.find("\r\n\r\n") {
                        let len = t
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if resp.len() >= i + 4 + len {
                            break;
                        }
                    }
                }
                Err(e) => return Err(e.kind()),
            }
        }
        let t = String::from_utf8_lossy(&resp).to_string();
        if t.is_empty() {
            return Err(std::io::ErrorKind::UnexpectedEof);
        }
        let status = t.lines().next().unwrap_or("").to_owned();
        let body = t.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .ok()
}

#[tokio::test]
async fn each_fault_before_and_after_forwarding() {
    let (up, count) = upstream().await;
    let rule = |n, kind, when| Rule::new(format!("req{n}"), 0, Fault::new(kind, when));
    let slow = FaultKind::TooManyRequests {
        retry_after_secs: 3,
    };
    let plan = FaultPlan::rules(vec![
        rule(1, slow, When::Before),
        rule(2, FaultKind::ServiceUnavailable, When::After),
        rule(3, FaultKind::Reset, When::Before),
        rule(4, FaultKind::Reset, When::After),
        rule(5, FaultKind::Timeout, When::After),
    ])
    .with_hold(Duration::from_secs(5));
    let proxy = FaultProxy::start(up, plan).await.unwrap();

    let ok = post(&proxy, "req0").await.unwrap().unwrap();
    assert_eq!(ok, ("HTTP/1.1 200 OK".to_owned(), "1".to_owned()));

    let r = post(&proxy, "req1").await.unwrap().unwrap();
    assert!(r.0.contains("429"), "{r:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "429 before: not forwarded");

    let r = post(&proxy, "req2").await.unwrap().unwrap();
    assert!(r.0.contains("503"), "{r:?}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "503 after: the upstream did it"
    );

    let r = post(&proxy, "req3").await.unwrap();
    assert!(r.is_err(), "reset: no answer, {r:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2);

    let r = post(&proxy, "req4").await.unwrap();
    assert!(r.is_err(), "{r:?}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "reset after: applied, answer lost"
    );

    assert!(post(&proxy, "req5").await.is_none(), "timeout: held");
    assert_eq!(count.load(Ordering::SeqCst), 4);

    let s = proxy.stats();
    assert_eq!((s.requests, s.forwarded, s.injected), (6, 4, 5));
    assert_eq!(proxy.injected_faults().len(), 5);
    let r = post(&proxy, "req6").await.unwrap().unwrap();
    assert_eq!(r.1, "5");
}

#[tokio::test]
async fn freeze_points_hold_everything_after_them() {
    let (up, count) = upstream().await;
    let proxy = FaultProxy::start(up, FaultPlan::none().freeze_after(2, When::After))
        .await
        .unwrap();
    assert!(post(&proxy, "a").await.unwrap().is_ok());
    assert!(post(&proxy, "b").await.unwrap().is_ok());
    assert!(post(&proxy, "c").await.is_none(), "held");
    assert_eq!(count.load(Ordering::SeqCst), 3, "forwarded, answer held");
    assert!(post(&proxy, "d").await.is_none());
    assert_eq!(proxy.frozen(), 2);
    proxy.unfreeze();
    assert_eq!(post(&proxy, "e").await.unwrap().unwrap().1, "5");

    let (up, count) = upstream().await;
    let proxy = FaultProxy::start(up, FaultPlan::none().freeze_on("insert", 1, When::Before))
        .await
        .unwrap();
    assert!(post(&proxy, "insert 1").await.unwrap().is_ok());
    assert!(post(&proxy, "find").await.unwrap().is_ok());
    assert!(post(&proxy, "insert 2").await.is_none());
    assert!(
        post(&proxy, "find").await.is_none(),
        "everything after is held too"
    );
    assert_eq!(count.load(Ordering::SeqCst), 2, "held before forwarding");
}

#[tokio::test]
async fn random_faults_hit_about_the_ratio() {
    let (up, count) = upstream().await;
    let faults = vec![
        Fault::new(FaultKind::ServiceUnavailable, When::Before),
        Fault::new(FaultKind::ServiceUnavailable, When::After),
    ];
    let proxy = FaultProxy::start(up, FaultPlan::random(5, 0.3).with_faults(faults))
        .await
        .unwrap();
    let mut failed = 0;
    for i in 0..200 {
        let r = post(&proxy, &format!("r{i}")).await.unwrap().unwrap();
        if r.0.contains("503") {
            failed += 1;
        }
    }
    let s = proxy.stats();
    assert_eq!(s.injected, failed);
    assert!((35..85).contains(&failed), "{failed} of 200");
    let after = proxy
        .injected_faults()
        .iter()
        .filter(|f| f.when == When::After)
        .count();
    assert_eq!(
        count.load(Ordering::SeqCst),
        200 - failed + after,
        "after-faults reached the upstream"
    );
}
