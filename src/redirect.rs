//! Local-path checks that keep `next=` and configured URLs from becoming
//! open redirects.

/// Returns `target` when it is a path on this site (`/contacts?page=2`),
/// `None` for anything a browser could read as another origin
/// (`//evil.example`, `/\evil.example`, `https://…`, `javascript:`…).
///
/// Use it on the `next` parameter of a login handler before redirecting.
///
/// ```
/// use rocket_session_security::local_path;
/// assert_eq!(local_path("/contacts?page=2"), Some("/contacts?page=2"));
/// assert_eq!(local_path("//evil.example/"), None);
/// assert_eq!(local_path("https://evil.example/"), None);
/// ```
pub fn local_path(target: &str) -> Option<&str> {
    let rest = target.strip_prefix('/')?;
    let suspicious = rest.starts_with('/')
        || rest.starts_with('\\')
        || target.chars().any(|c| c.is_control() || c == '\\');
    (!suspicious).then_some(target)
}
