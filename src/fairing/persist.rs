//! After the handler: what it changed goes to the store, and the request
//! counts as activity unless it is passive or came from another site.

use rocket::Request;

use crate::classify::is_cross_origin;
use crate::config::Config;
use crate::error::Error;
use crate::paths::BASE;
use crate::runtime::Runtime;
use crate::session::state::RequestSession;

/// Saves what the handler changed and records activity unless passive.
pub(super) async fn persist(
    runtime: &Runtime,
    request: &Request<'_>,
    session: &RequestSession,
) -> Result<(), Error> {
    let writes = session.lock().take_writes()?;
    let sessions = &runtime.sessions;
    if let Some(record) = &writes.insert {
        sessions.insert(session.caller(), record).await?;
    }
    if let Some((hash, data)) = &writes.save {
        sessions.save_data(session.caller(), hash, data).await?;
    }
    let Some(hash) = writes.token_hash else {
        return Ok(());
    };
    let stamp = match writes.activity_refused {
        true => None,
        false if is_passive(&runtime.config, request) => writes.stamp,
        false => Some(session.now),
    };
    // Checked last: reading headers is a large part of the fairing's cost.
    let stamp = stamp.filter(|_| !is_cross_origin(request));
    if let Some(at) = stamp {
        // Activity that cannot be written yet is kept for the next flush;
        // it is no reason to refuse the request.
        if let Err(e) = sessions.touch(&hash, at).await {
            rocket::warn!("session security: activity not recorded yet: {e}");
        }
    }
    Ok(())
}

/// Passive requests never count as activity: configured paths and route
/// names, and the crate's own routes (the keepalive records its own
/// activity, once it knows the page's user).
fn is_passive(config: &Config, request: &Request<'_>) -> bool {
    let path = request.uri().path();
    let own = path.starts_with(BASE);
    let route_name = request.route().and_then(|r| r.name.as_deref());
    own || config.passive_paths.iter().any(|p| p == path.as_str())
        || route_name.is_some_and(|name| config.passive_routes.iter().any(|n| n == name))
}
