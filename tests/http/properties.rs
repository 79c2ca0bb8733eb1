//! Property tests at the HTTP boundary: whatever a browser or an attacker
//! puts in the session cookie or the ping's query, the answer is never a
//! server error, never a session, and changes nothing it should not.

use crate::common::{figment, LibraryApp, TestApp};
use proptest::prelude::*;
use rocket::http::{Cookie, Header, Status};
use rocket::tokio::runtime::Runtime;
use rocket_session_security::SESSION_COOKIE;

/// Percent-encodes every byte, so any byte string can ride in a query.
fn encoded(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// One app for all cases of a property, on its own runtime.
fn app(runtime: &Runtime) -> TestApp {
    runtime.block_on(async {
        let app = TestApp::with(figment()).await;
        app.login("alice").await;
        app
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A cookie value that is not one of our tokens is no session.
    #[test]
    fn any_session_cookie_value_is_no_session_never_an_error(
        value in "[ -~]{0,80}",
    ) {
        let runtime = Runtime::new().unwrap();
        let app = app(&runtime);
        let status = runtime.block_on(async {
            app.client
                .get("/whoami")
                .cookie(Cookie::new(SESSION_COOKIE, value))
                .header(Header::new("Accept", "application/json"))
                .dispatch()
                .await
                .status()
        });
        // The tracked jar sends alice's cookie too; the request's own
        // cookie wins, and it names nothing.
        prop_assert_eq!(status, Status::Unauthorized);
    }

    /// Any bytes as `idleFor`: 200 with nothing moved, or 400; never 5xx.
    #[test]
    fn any_idle_for_bytes_are_answered_without_moving_activity_wrongly(
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let runtime = Runtime::new().unwrap();
        let app = app(&runtime);
        app.advance(3);
        let (status, idle) = runtime.block_on(async {
            let path = format!("/session_security/ping?idleFor={}", encoded(&bytes));
            let status = app.get(&path).await.status();
            (status, app.server_idle().await)
        });
        let text = String::from_utf8_lossy(&bytes);
        let valid = !bytes.is_empty()
            && bytes.iter().all(u8::is_ascii_digit)
            && text.parse::<u64>().is_ok_and(|n| n <= i32::MAX as u64);
        if valid {
            prop_assert_eq!(status, Status::Ok);
            let reported: u64 = text.parse().unwrap();
            prop_assert_eq!(idle, Some(reported.min(3) as i64));
        } else {
            prop_assert_eq!(status, Status::BadRequest, "{:?}", bytes);
            prop_assert_eq!(idle, Some(3), "nothing changed");
        }
    }

    /// Any bytes anywhere in the ping's query string: never a server error.
    #[test]
    fn any_ping_query_is_never_a_server_error(
        bytes in proptest::collection::vec(any::<u8>(), 0..60),
    ) {
        let runtime = Runtime::new().unwrap();
        let app = app(&runtime);
        let status = runtime.block_on(async {
            let path = format!("/session_security/ping?{}", encoded(&bytes));
            app.get(&path).await.status()
        });
        prop_assert!(status.code < 500, "{} for {:?}", status, bytes);
    }
}
