//! Error types: [`ServerError`] for starting/stopping the server, and the
//! Data API error objects returned inside response bodies.

use serde_json::{Map, Value, json};

/// Errors from starting, running or stopping the server (not request errors:
/// those are reported to the client inside the JSON response body).
///
/// ```
/// use songrec_dataapi_server::ServerError;
/// let e = ServerError::Config("page size must be > 0".into());
/// assert!(e.to_string().contains("page size"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the socket or creating the data directory failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Opening or migrating the SQLite database failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server task failed or panicked.
    #[error("server task failed: {0}")]
    Task(String),
}

/// Error family (`REQUEST` = the client's fault, `SERVER` = ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Request,
    Server,
}

macro_rules! error_codes {
    ($( $name:ident => ($family:ident, $scope:literal, $title:literal) ),* $(,)?) => {
        /// The current (>= v1.0.35) Data API error codes this server emits.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Code { $( $name ),* }

        impl Code {
            pub(crate) fn as_str(self) -> &'static str {
                match self { $( Code::$name => stringify!($name) ),* }
            }
            pub(crate) fn family(self) -> Family {
                match self { $( Code::$name => Family::$family ),* }
            }
            pub(crate) fn scope(self) -> &'static str {
                match self { $( Code::$name => $scope ),* }
            }
            pub(crate) fn title(self) -> &'static str {
                match self { $( Code::$name => $title ),* }
            }
        }
    };
}

error_codes! {
    // security
    MISSING_AUTHENTICATION_TOKEN => (Request, "SECURITY", "Missing authentication token"),
    UNAUTHENTICATED_REQUEST => (Request, "SECURITY", "Authentication failed"),
    // unscoped request errors
    COMMAND_ACCEPTS_NO_OPTIONS => (Request, "", "Command accepts no options"),
    COMMAND_FIELD_VALUE_INVALID => (Request, "", "Command field value invalid"),
    COMMAND_FIELD_UNKNOWN => (Request, "", "Command field unknown"),
    COMMAND_UNKNOWN => (Request, "", "Command is not recognized by Data API"),
    REQUEST_NOT_JSON => (Request, "", "Request not valid JSON"),
    REQUEST_STRUCTURE_MISMATCH => (Request, "", "Request structure not valid"),
    UNSUPPORTED_CONTENT_TYPE => (Request, "", "Unsupported Content-Type"),
    // document
    DOCUMENT_ALREADY_EXISTS => (Request, "DOCUMENT", "Document the given _id already exists"),
    DOCUMENT_REPLACE_DIFFERENT_DOCID => (Request, "DOCUMENT", "Document the given _id already exists"),
    SHRED_BAD_BINARY_VECTOR_VALUE => (Request, "DOCUMENT", "Bad binary vector value to shred"),
    SHRED_BAD_DOCID_TYPE => (Request, "DOCUMENT", "Bad type for '_id' field"),
    SHRED_BAD_DOCID_VALUE => (Request, "DOCUMENT", "Bad value for '_id' field"),
    SHRED_BAD_DOCUMENT_TYPE => (Request, "DOCUMENT", "Bad document type to shred"),
    SHRED_BAD_DOCUMENT_VECTOR_TYPE => (Request, "DOCUMENT", "Bad $vector value to shred"),
    SHRED_BAD_EJSON_VALUE => (Request, "DOCUMENT", "Bad JSON Extension value to shred"),
    SHRED_BAD_FIELD_NAME => (Request, "DOCUMENT", "Document field name not valid"),
    SHRED_BAD_VECTOR_SIZE => (Request, "DOCUMENT", "Bad $vector value"),
    SHRED_BAD_VECTOR_VALUE => (Request, "DOCUMENT", "Bad $vector value"),
    SHRED_DOC_LIMIT_VIOLATION => (Request, "DOCUMENT", "Document size limitation violated"),
    INVALID_VECTOR_LENGTH => (Request, "DOCUMENT", "Vector length does not match collection dimension"),
    VECTOR_SEARCH_NOT_SUPPORTED => (Request, "DOCUMENT", "Vector search not enabled for the collection"),
    // filter
    FILTER_FIELDS_LIMIT_VIOLATION => (Request, "FILTER", "Filter fields size limitation violated"),
    FILTER_INVALID_EXPRESSION => (Request, "FILTER", "Unsupported filter clause"),
    FILTER_PATH_UNINDEXED => (Request, "FILTER", "Collection path used in filter clause not indexed"),
    FILTER_UNSUPPORTED_OPERATOR => (Request, "FILTER", "Unsupported filter operator"),
    // update
    UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID => (Request, "UPDATE", "Update operators cannot be used on _id field"),
    UNSUPPORTED_UPDATE_OPERATOR_FOR_VECTOR => (Request, "UPDATE", "Update operator cannot be used on $vector field"),
    UNSUPPORTED_UPDATE_OPERATION => (Request, "UPDATE", "Unsupported update operation"),
    UNSUPPORTED_UPDATE_OPERATION_PARAM => (Request, "UPDATE", "Unsupported update operation parameter"),
    UNSUPPORTED_UPDATE_OPERATION_PATH => (Request, "UPDATE", "Invalid update operation path"),
    UNSUPPORTED_UPDATE_OPERATION_TARGET => (Request, "UPDATE", "Invalid target for update operation"),
    UNSUPPORTED_UPDATE_OPERATION_MODIFIER => (Request, "UPDATE", "Unsupported update operation modifier"),
    MISSING_UPDATE_OPERATIONS => (Request, "UPDATE", "Update operation requires at least one operation"),
    // projection
    UNSUPPORTED_PROJECTION_DEFINITION => (Request, "PROJECTION", "Unsupported projection definition"),
    UNSUPPORTED_PROJECTION_PARAM => (Request, "PROJECTION", "Unsupported projection parameter"),
    // schema
    UNKNOWN_KEYSPACE => (Request, "SCHEMA", "Keyspace does not exist in the Database"),
    UNKNOWN_COLLECTION_OR_TABLE => (Request, "SCHEMA", "Collection or table does not exist"),
    EXISTING_COLLECTION_DIFFERENT_SETTINGS => (Request, "SCHEMA", "Collection already exists with different settings"),
    INVALID_INDEXING_DEFINITION => (Request, "SCHEMA", "Invalid indexing definition"),
    INVALID_CREATE_COLLECTION_OPTIONS => (Request, "SCHEMA", "Invalid options for createCollection"),
    VECTOR_SEARCH_TOO_BIG_VALUE => (Request, "SCHEMA", "Vector dimension too big"),
    EMBEDDING_SERVICE_NOT_CONFIGURED => (Request, "SCHEMA", "Embedding service not configured for collection"),
    LEXICAL_NOT_ENABLED_FOR_COLLECTION => (Request, "SCHEMA", "Lexical search is not enabled for the collection"),
    // sort
    SORT_CLAUSE_INVALID => (Request, "SORT", "Sort clause used by command not valid"),
    SORT_CLAUSE_PATH_INVALID => (Request, "SORT", "Path used in sort clause not valid"),
    SORT_CLAUSE_PATH_UNINDEXED => (Request, "SORT", "Collection field used in sort clause not indexed"),
    SORT_CLAUSE_VALUE_INVALID => (Request, "SORT", "Value used for sort expression not valid"),
    OVERLOADED_SORT_ROW_LIMIT => (Request, "SORT", "Sort aborted due to in-memory sort restriction"),
    // server
    INTERNAL_SERVER_ERROR => (Server, "", "Internal server error"),
    INVALID_DATABASE_QUERY => (Server, "DATABASE", "Invalid database query"),
    TOO_MANY_COLLECTIONS => (Server, "DATABASE", "Too many collections"),
    UNAVAILABLE_DATABASE => (Server, "DATABASE", "The database is unavailable"),
}

/// One Data API error object, as placed in a response's `errors` array.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) document_ids: Vec<Value>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            document_ids: Vec::new(),
        }
    }

    pub(crate) fn with_doc_id(mut self, id: Value) -> Self {
        self.document_ids.push(id);
        self
    }

    /// HTTP status this error forces on the response (200 for "soft" errors).
    pub(crate) fn http_status(&self) -> u16 {
        match self.code {
            Code::MISSING_AUTHENTICATION_TOKEN | Code::UNAUTHENTICATED_REQUEST => 401,
            Code::UNSUPPORTED_CONTENT_TYPE => 415,
            _ => 200,
        }
    }

    /// Same code and message (used to de-duplicate insertMany errors).
    pub(crate) fn same_kind(&self, other: &ApiError) -> bool {
        self.code == other.code && self.message == other.message
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
        let family = match self.code.family() {
            Family::Request => "REQUEST",
            Family::Server => "SERVER",
        };
        m.insert("family".into(), json!(family));
        m.insert("scope".into(), json!(self.code.scope()));
        m.insert("errorCode".into(), json!(self.code.as_str()));
        m.insert("title".into(), json!(self.code.title()));
        m.insert("message".into(), json!(self.message));
        if !self.document_ids.is_empty() {
            m.insert(
                "documentIds".into(),
                Value::Array(self.document_ids.clone()),
            );
        }
        Value::Object(m)
    }
}

/// Shorthand constructors used throughout the command code.
pub(crate) fn err(code: Code, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

pub(crate) fn field_invalid(field: &str, value: &Value, why: &str) -> ApiError {
    let full = value.to_string();
    let mut shown: String = full.chars().take(100).collect();
    if shown.len() < full.len() {
        shown.push('…');
    }
    err(
        Code::COMMAND_FIELD_VALUE_INVALID,
        format!("Command field '{field}' value {shown} not valid: {why}."),
    )
}

pub(crate) fn field_unknown(field: &str, known: &[&str]) -> ApiError {
    err(
        Code::COMMAND_FIELD_UNKNOWN,
        format!(
            "Command field '{field}' not recognized: known fields are [{}].",
            known.join(", ")
        ),
    )
}
