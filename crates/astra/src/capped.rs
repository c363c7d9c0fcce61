//! Bounds on what a server may send back: every body the Data API client and the S3 store read
//! into memory is streamed and stopped (the connection dropped) at a cap a few times the largest
//! answer songrec asks for, with an error naming the endpoint and the cap, so an endless body
//! costs at most the cap in memory.
//!
//! - **Data API**: [`DataApiConfig::max_response_bytes`](crate::dataapi::DataApiConfig) for
//!   commands that return documents, [`STATUS_BODY_CAP`] for every other command.
//! - **S3** (`CappedS3Client`): [`S3_BODY_CAP`] for listings, multipart answers and error
//!   bodies; an object's own bytes (with a `Content-Length`) are streamed to a file, not capped.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use object_store::client::{
    HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpResponseBody, HttpService,
};

/// Cap of a Data API answer to a command that returns no documents (counts, writes, schema).
pub const STATUS_BODY_CAP: u64 = 4 * 1024 * 1024;
/// Cap of an S3 body other than an object's own bytes (listings, multipart answers, errors).
pub const S3_BODY_CAP: u64 = 8 * 1024 * 1024;

/// A response body that went past its cap. `what` names the request: method, endpoint and
/// path, never a query string (which may carry a signature) nor a header (the token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what}: the answer is larger than {limit} bytes, far more than any answer songrec asks for; stopped reading it"
)]
pub struct BodyTooLarge {
    /// Method, endpoint and path.
    pub what: String,
    /// The cap, in bytes.
    pub limit: u64,
}

/// Why [`read_capped`] stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// More than the cap arrived (or was announced by `Content-Length`).
    TooLarge,
    Http(reqwest::Error),
}

/// Reads a whole response body, at most `limit` bytes: a `Content-Length` above the cap is
/// refused before anything is read, and a body that grows past it is dropped at once.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let hint = resp.content_length().unwrap_or(0).min(limit);
    let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(ReadError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// object_store's reqwest client with every body but an object's own bytes capped at
/// [`S3_BODY_CAP`] (see the module docs).
#[derive(Debug)]
pub(crate) struct CappedS3Client {
    pub(crate) client: reqwest::Client,
    /// `scheme://host[:port]` of the endpoint, for errors.
    pub(crate) endpoint: String,
}

#[async_trait::async_trait]
impl HttpService for CappedS3Client {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let object_get = req.method() == reqwest::Method::GET && req.uri().query().is_none();
        let what = format!("{} {}{}", req.method(), self.endpoint, req.uri().path());
        let resp = HttpService::call(&self.client, req).await?;
        let sized = resp.headers().contains_key(reqwest::header::CONTENT_LENGTH);
        if object_get && sized && resp.status().is_success() {
            // An object's bytes: exactly Content-Length of them, streamed by the reader.
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let body = CappedBody {
            inner: body,
            seen: 0,
            what,
            done: false,
        };
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
    }
}

/// A body that fails with [`BodyTooLarge`] once more than `limit` bytes came through.
struct CappedBody {
    inner: HttpResponseBody,
    seen: u64,
    what: String,
    done: bool,
}

impl http_body::Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let Some(data) = frame.data_ref() {
            self.seen = self.seen.saturating_add(data.len() as u64);
            if self.seen > S3_BODY_CAP {
                self.done = true;
                let e = BodyTooLarge {
                    what: self.what.clone(),
                    limit: S3_BODY_CAP,
                };
                // Decode: object_store does not retry it (the same request would flood again).
                return Poll::Ready(Some(Err(HttpError::new(HttpErrorKind::Decode, e))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
