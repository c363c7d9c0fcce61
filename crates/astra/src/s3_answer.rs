//! An S3 server's error answer in a few words. object_store's error text carries the request
//! (method, URL, timing, retries) and the answer's body, which on S3 is an XML document
//! (`<Error><Code>NoSuchBucket</Code><Message>…</Message>…</Error>`) and behind a proxy an
//! HTML page: the user gets the status, S3's code and its message; the whole text goes to the
//! log (`-v`).

/// `message` (object_store's error text) reduced to what the server answered: `S3 answered
/// 404 Not Found: NoSuchBucket (The specified bucket does not exist)`; the text as it is when
/// it holds no answer from the server.
///
/// ```
/// # use songrec_astra::s3_answer::in_few_words;
/// let raw = "Generic S3 error: Error performing PUT http://h/b/k in 2ms - Server returned \
///            non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>NoSuchBucket\
///            </Code><Message>The specified bucket does not exist</Message></Error>";
/// assert_eq!(
///     in_few_words(raw),
///     "S3 answered 404 Not Found: NoSuchBucket (The specified bucket does not exist)"
/// );
/// assert_eq!(in_few_words("connection reset"), "connection reset");
/// ```
pub fn in_few_words(message: &str) -> String {
    let status = message
        .find("status code: ")
        .map(|i| &message[i + "status code: ".len()..])
        .map(|rest| rest.split(':').next().unwrap_or(rest).trim());
    let code = tag(message, "Code");
    if status.is_none() && code.is_none() {
        return message.to_owned();
    }
    tracing::debug!("S3 answered: {message}");
    let mut out = String::from("S3 answered");
    if let Some(s) = status {
        out.push(' ');
        out.push_str(s);
    }
    if let Some(c) = code {
        out.push_str(if status.is_some() { ": " } else { " " });
        out.push_str(&c);
        if let Some(m) = tag(message, "Message") {
            out.push_str(&format!(" ({m})"));
        }
    }
    out
}

/// The text of the first `<name>…</name>` element of `s`, trimmed; `None` when absent or empty.
fn tag(s: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = s.find(&open)? + open.len();
    let len = s[start..].find(&format!("</{name}>"))?;
    let text = s[start..start + len].trim();
    (!text.is_empty() && !text.contains('<')).then(|| text.to_owned())
}
