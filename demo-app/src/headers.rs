//! Security headers on every response. The pages have no inline script or
//! style, so the policy can forbid both; frames are allowed from this site
//! only, which is what the library's relogin dialog needs.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Request, Response};

/// The Content-Security-Policy of every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'self'";

/// Adds `Content-Security-Policy`, `X-Frame-Options` and friends.
pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_raw_header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        // For browsers that predate `frame-ancestors`.
        response.set_raw_header("X-Frame-Options", "SAMEORIGIN");
        response.set_raw_header("X-Content-Type-Options", "nosniff");
        response.set_raw_header("Referrer-Policy", "same-origin");
    }
}
