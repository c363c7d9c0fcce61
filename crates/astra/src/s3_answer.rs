//! An S3 server's error answer in a few words: the status, S3's code and its message out of
//! object_store's error text (request, timing, XML or HTML body), which goes to the log (`-v`).

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
    let code = tag(message, "Code").map(|c| match tag(message, "Message") {
        Some(m) => format!("{c} ({m})"),
        None => c,
    });
    let answer = match (status, code) {
        (None, None) => return message.to_owned(),
        (Some(s), Some(c)) => format!("{s}: {c}"),
        (Some(s), None) => s.to_owned(),
        (None, Some(c)) => c,
    };
    tracing::debug!("S3 answered: {message}");
    format!("S3 answered {answer}")
}

/// The text of the first `<name>…</name>` element of `s`, trimmed; `None` when absent or empty.
fn tag(s: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = s.find(&open)? + open.len();
    let len = s[start..].find(&format!("</{name}>"))?;
    let text = s[start..start + len].trim();
    (!text.is_empty() && !text.contains('<')).then(|| text.to_owned())
}
