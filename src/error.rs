//! The crate's error types.

use std::fmt;

/// A `session_security` configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key at fault, e.g. `warn_after`.
    pub key: String,
    /// What is wrong with it and what to do.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, message: String) -> Self {
        ConfigError {
            key: key.into(),
            message,
        }
    }

    pub(crate) fn from_figment(e: rocket::figment::Error) -> Self {
        use rocket::figment::error::Kind;
        let key = match &e.kind {
            Kind::UnknownField(field, _) => field.clone(),
            _ => e
                .path
                .last()
                .cloned()
                .unwrap_or_else(|| "session_security".into()),
        };
        ConfigError {
            key,
            message: e.kind.to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid `session_security.{}`: {}",
            self.key, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// What can go wrong while reading or changing a session.
#[derive(Debug)]
pub enum Error {
    /// The session store failed (see [`StoreError`]).
    Store(StoreError),
    /// The session store did not answer within `store_timeout`.
    Unavailable,
    /// A value could not be turned into or read from JSON.
    Json(serde_json::Error),
    /// The fairing is not attached, so there is no session to work on.
    NotAttached,
    /// A crate template could not be registered or rendered.
    Template(String),
    /// The store's URL names a database this crate cannot use.
    UnsupportedUrl(String),
    /// The store's settings (`databases.session_security`) cannot be used.
    StoreConfig(String),
    /// The session ended elsewhere (a logout in another request) while
    /// this request worked on it; nothing was changed.
    SessionEnded,
    /// The session's data would grow past `max_data_bytes`; nothing was
    /// changed.
    DataTooLarge {
        /// The size the data would have, in bytes of JSON.
        bytes: usize,
        /// The configured `max_data_bytes`.
        limit: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Store(e) => write!(f, "session store error: {e}"),
            Error::Unavailable => write!(
                f,
                "session store did not answer within `session_security.store_timeout`"
            ),
            Error::Json(e) => write!(f, "session value is not valid JSON: {e}"),
            Error::NotAttached => write!(
                f,
                "session security fairing is not attached: add `.attach(SessionSecurity::fairing())`"
            ),
            Error::Template(e) => write!(f, "session security template error: {e}"),
            Error::StoreConfig(why) => write!(f, "invalid session store settings: {why}"),
            Error::SessionEnded => write!(
                f,
                "the session ended in another request meanwhile; nothing was changed"
            ),
            Error::DataTooLarge { bytes, limit } => write!(
                f,
                "session data would be {bytes} bytes, over `session_security.max_data_bytes` \
                 ({limit}); nothing was changed: keep large values in your own tables"
            ),
            Error::UnsupportedUrl(url) => write!(
                f,
                "unsupported session store url `{url}`: use `sqlite://...` (cargo feature \
                 `sqlite`, the default) or `postgres://...` (feature `postgres`) in \
                 `databases.session_security.url`"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Store(e) => Some(e),
            Error::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl Error {
    /// Whether the store failed rather than the caller: the request should
    /// be answered `503` and retried, never taken for a logout.
    pub fn is_store_failure(&self) -> bool {
        matches!(self, Error::Store(_) | Error::Unavailable)
    }
}

/// A session store's own failure: a database error, a lost connection.
/// Opaque, so that no database driver's type is part of this crate's API;
/// its [`source`](std::error::Error::source) is the driver's error. A
/// custom [`SessionStore`](crate::SessionStore) wraps its errors in one.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps a store's error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(error.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl Error {
    /// A failure of the SQL store's driver.
    pub(crate) fn sql(e: sqlx::Error) -> Self {
        Error::Store(StoreError::new(e))
    }
}

/// `?` for the SQL store's driver results: `.db()?` turns a driver error
/// into [`Error::Store`] without a public `From` impl for it.
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T, Error>;
}

impl<T> DbResult<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, Error> {
        self.map_err(Error::sql)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}
