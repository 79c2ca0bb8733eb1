//! The fairing's background work: flushing coalesced activity, purging
//! ended sessions, and (with PostgreSQL) keeping the instances' caches
//! coherent. Started at liftoff, stopped at shutdown.

use std::sync::Arc;
use std::time::Duration;

use rocket::tokio::{self, time::sleep};

use crate::runtime::Runtime;

/// Starts the background tasks; they end with `shutdown`.
pub(crate) fn start(runtime: Arc<Runtime>, shutdown: rocket::Shutdown) {
    #[cfg(feature = "postgres")]
    if let (Some(crate::store::StorePool::Postgres(pool)), Some(instance)) =
        (&runtime.pool, &runtime.instance)
    {
        let (sessions, pool) = (runtime.sessions.clone(), pool.clone());
        crate::store::listen_to_peers(sessions, pool, instance.clone(), shutdown.clone());
    }
    tokio::spawn(flush_and_purge(runtime, shutdown));
}

/// Flushes the last activity stamps, then closes the store's pool.
pub(crate) async fn stop(runtime: &Runtime) {
    if let Err(e) = runtime.sessions.flush().await {
        rocket::error!("session security: last activity could not be saved at shutdown: {e}");
    }
    if let Some(pool) = &runtime.pool {
        pool.close().await;
    }
}

/// Every `activity_write_grace` seconds, writes the activity seen since in
/// one batch; every so often, deletes expired sessions and backups.
async fn flush_and_purge(runtime: Arc<Runtime>, shutdown: rocket::Shutdown) {
    let config = &runtime.config;
    let flush_every = Duration::from_secs(config.activity_write_grace.max(1));
    let purge_every = (config.expire_after / 2).clamp(1, 60) as i64;
    // An expired session must outlive its end until the browser's next
    // request, which backs it up for the relogin.
    let retain = if config.relogin { config.backup_ttl } else { 0 };
    let mut last_purge = runtime.clock.now();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = sleep(flush_every) => {}
        }
        if let Err(e) = runtime.sessions.flush().await {
            rocket::warn!("session security: activity not saved yet, will retry: {e}");
            continue;
        }
        let now = runtime.clock.now();
        if now - last_purge < purge_every {
            continue;
        }
        last_purge = now;
        let purged = runtime.sessions.purge(now, config.absolute_after, retain);
        if let Err(e) = purged.await {
            rocket::warn!("session security: purge failed: {e}");
        }
        match runtime
            .sessions
            .live_count(now, config.absolute_after)
            .await
        {
            Ok(live) => metrics::gauge!("session_security_live_sessions").set(live as f64),
            Err(e) => rocket::warn!("session security: live sessions not counted: {e}"),
        }
    }
}
