//! `Collection::find` and its paging cursor.

use futures::{Stream, TryStreamExt as _};
use serde_json::{Map, Value, json};

use super::collection::{Collection, FindOptions, object_or_empty};
use super::error::DataApiError;

impl Collection {
    /// Starts a `find`; the returned cursor pages lazily following `nextPageState`.
    ///
    /// A vector sort returns one page (the server never pages ANN results), so iterating a
    /// vector search costs exactly one request.
    pub fn find(&self, filter: Value, options: FindOptions) -> FindCursor {
        FindCursor::new(self.clone(), filter, options)
    }
}

/// A lazy `find` cursor following `nextPageState` until it is null or `limit` is reached.
///
/// `includeSortVector` is never sent (it would force `nextPageState` to null).
#[derive(Debug)]
pub struct FindCursor {
    collection: Collection,
    filter: Result<Value, String>,
    options: FindOptions,
    page_state: Option<String>,
    yielded: usize,
    done: bool,
}

impl FindCursor {
    pub(crate) fn new(collection: Collection, filter: Value, options: FindOptions) -> Self {
        let filter = object_or_empty(filter, "filter").map_err(|e| e.to_string());
        Self {
            collection,
            filter,
            options,
            page_state: None,
            yielded: 0,
            done: false,
        }
    }

    /// The page state of the next page (`None` before the first page and once the server
    /// said there are no more matches).
    pub fn next_page_state(&self) -> Option<&str> {
        self.page_state.as_deref()
    }

    fn body(&self, filter: &Value) -> Value {
        let mut cmd = json!({ "filter": filter });
        if let Some(p) = &self.options.projection {
            cmd["projection"] = p.clone();
        }
        if let Some(s) = &self.options.sort {
            cmd["sort"] = s.to_json(self.collection.encoding());
        }
        let mut opts = Map::new();
        if let Some(limit) = self.options.limit {
            opts.insert("limit".into(), json!(limit));
        }
        if self.options.include_similarity {
            opts.insert("includeSimilarity".into(), json!(true));
        }
        if let Some(ps) = &self.page_state {
            opts.insert("pageState".into(), json!(ps));
        }
        if !opts.is_empty() {
            cmd["options"] = Value::Object(opts);
        }
        cmd
    }

    /// Fetches the next page; `None` when exhausted. May return an empty page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, DataApiError> {
        if self.done {
            return Ok(None);
        }
        if self.options.limit == Some(0) {
            self.done = true;
            return Ok(None);
        }
        // An error ends the cursor.
        let page = self.fetch_page().await;
        self.done |= page.is_err();
        page.map(Some)
    }

    async fn fetch_page(&mut self) -> Result<Vec<Value>, DataApiError> {
        let body = self.body(&self.filter.clone().map_err(DataApiError::InvalidArgument)?);
        let resp = self.collection.command("find", body, true).await?;
        let data = resp.data.unwrap_or_default();
        let mut docs = match data.get("documents") {
            Some(Value::Array(d)) => d.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                let what = "find data.documents is not an array";
                return Err(DataApiError::Decode(what.into()));
            }
        };
        let next = match data.get("nextPageState") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        if let Some(limit) = self.options.limit {
            docs.truncate(limit.saturating_sub(self.yielded));
        }
        self.yielded += docs.len();
        let limit_reached = self.options.limit.is_some_and(|l| self.yielded >= l);
        // Guard against a server repeating the same page state forever.
        let repeated = next.is_some() && next == self.page_state;
        self.done = next.is_none() || limit_reached || repeated;
        self.page_state = next;
        Ok(docs)
    }

    /// Fetches all remaining documents.
    pub async fn collect_all(mut self) -> Result<Vec<Value>, DataApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// A stream of documents; an error ends the stream.
    pub fn into_stream(self) -> impl Stream<Item = Result<Value, DataApiError>> + Send {
        let pages = futures::stream::try_unfold(self, |mut cursor| async move {
            let page = cursor.next_page().await?;
            let docs = page.map(|p| futures::stream::iter(p.into_iter().map(Ok)));
            Ok::<_, DataApiError>(docs.map(|d| (d, cursor)))
        });
        pages.try_flatten()
    }
}
