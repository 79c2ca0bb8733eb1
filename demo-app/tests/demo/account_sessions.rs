//! `/account/sessions`: the signed-in user's live sessions, one element
//! each (`data-session`, the current one `data-current`), and the POST
//! forms that end one (`…/revoke`) or all the others (`…/revoke-others`).
//!
//! Each browser is an instance of its own on the same databases (the local
//! client's way). The session cache is off so they agree at once, as
//! instances on PostgreSQL do within their notification batch; the library
//! tests that part.

use crate::common::{csrf_token, form_body, location, DemoApp, TestApp};
use rocket::figment::providers::Serialized;
use rocket::http::{ContentType, Header, Status};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

const PAGE: &str = "/account/sessions";

/// A first browser, not signed in yet.
async fn start(name: &str) -> TestApp {
    TestApp::start_with(name, |figment| {
        figment.merge(Serialized::global("session_security.cache_capacity", 0))
    })
    .await
}

/// Signs `app` in through the login form, as the browser `agent`.
async fn login_as(app: &TestApp, username: &str, agent: &str) {
    let (status, page) = app.page("/login").await;
    assert_eq!(status, Status::Ok);
    let token = csrf_token(&page).expect("the login form has a CSRF token");
    let password = format!("{username}-demo-pass");
    let response = app
        .client
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("User-Agent", agent.to_owned()))
        .body(form_body(&[
            ("csrf_token", &token),
            ("username", username),
            ("password", &password),
        ]))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::SeeOther, "{username} signed in");
}

/// One session element of the page: its id, whether it is marked current,
/// and its markup.
#[derive(Debug)]
struct Entry {
    id: String,
    current: bool,
    html: String,
}

/// The elements with a `data-session` attribute, in page order.
fn entries(page: &str) -> Vec<Entry> {
    let marker = "data-session=\"";
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find(marker) {
        let tag_start = rest[..at].rfind('<').expect("inside a tag");
        let after = &rest[at + marker.len()..];
        let id = after[..after.find('"').expect("quoted")].to_owned();
        let tag_end = at + rest[at..].find('>').expect("tag ends");
        let current = rest[tag_start..tag_end].contains("data-current");
        let tag_name: String = rest[tag_start + 1..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let close = format!("</{tag_name}>");
        let end = tag_end + rest[tag_end..].find(&close).expect("element closes");
        found.push(Entry {
            id,
            current,
            html: rest[tag_start..end].to_owned(),
        });
        rest = &rest[end..];
    }
    found
}

/// The sessions page of a signed-in browser.
async fn sessions_page(app: &TestApp) -> (String, Vec<Entry>) {
    let (status, page) = app.page(PAGE).await;
    assert_eq!(status, Status::Ok, "the sessions page");
    let list = entries(&page);
    (page, list)
}

/// The `action` of every POST form in `html`.
fn form_actions(html: &str) -> Vec<String> {
    let marker = "<form method=\"post\" action=\"";
    html.match_indices(marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        })
        .collect()
}

/// POSTs the page's CSRF token to `action`: the answer's status and
/// `Location`, and the flash on the page it leads to.
async fn post(app: &TestApp, action: &str) -> (Status, String, String) {
    let token = app.csrf().await;
    let response = app.post_form(action, &[("csrf_token", &token)]).await;
    let (status, to) = (response.status(), location(&response));
    drop(response);
    let (_, page) = app.page(&to).await;
    (status, to, flash(&page))
}

/// The flash message on a page, if any.
fn flash(page: &str) -> String {
    let Some(at) = page.find("class=\"flash ") else {
        return String::new();
    };
    let start = at + page[at..].find('>').unwrap() + 1;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

/// Whether `app`'s next page is served, rather than sent to the login.
async fn signed_in(app: &TestApp) -> bool {
    let response = app.get("/").await;
    match response.status() {
        Status::Ok => true,
        Status::SeeOther => {
            assert!(location(&response).starts_with("/login"), "to the login");
            false
        }
        other => panic!("unexpected {other}"),
    }
}

#[rocket::async_test]
async fn the_page_needs_a_login_and_the_header_links_to_it() {
    let app = start("sessions-login").await;
    let response = app.get(PAGE).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert!(location(&response).starts_with("/login"));
    drop(response);

    login_as(&app, "alice", FIREFOX).await;
    let (_, dashboard) = app.page("/").await;
    assert!(
        dashboard.contains("href=\"/account/sessions\""),
        "header link"
    );
    let (page, _) = sessions_page(&app).await;
    assert!(page.contains("href=\"/account/sessions\" aria-current=\"page\""));
}

#[rocket::async_test]
async fn two_browsers_are_two_sessions_and_one_is_current() {
    let laptop = start("sessions-list").await;
    let phone = laptop.second_browser().await;
    login_as(&laptop, "alice", FIREFOX).await;
    laptop.advance(90);
    login_as(&phone, "alice", SAFARI).await;
    laptop.advance(150);

    let (page, list) = sessions_page(&laptop).await;
    assert_eq!(list.len(), 2, "{page}");
    let current: Vec<_> = list.iter().filter(|e| e.current).collect();
    assert_eq!(current.len(), 1, "exactly one data-current");
    let (mine, other) = match list[0].current {
        true => (&list[0], &list[1]),
        false => (&list[1], &list[0]),
    };
    assert!(mine.html.contains("Firefox on Linux"), "{}", mine.html);
    assert!(other.html.contains("Safari on iPhone"), "{}", other.html);
    // Human-readable times on the library's clock.
    assert!(
        mine.html.contains("Nov 14, 2023 22:13 UTC"),
        "{}",
        mine.html
    );
    assert!(
        mine.html.contains("4 minutes ago"),
        "started: {}",
        mine.html
    );
    assert!(mine.html.contains("just now"), "last active: {}", mine.html);
    assert!(other.html.contains("2 minutes ago"), "{}", other.html);

    // A revoke form for the other one only, and one revoke-others form.
    assert!(
        form_actions(&mine.html).is_empty(),
        "no form for the current"
    );
    assert_eq!(
        form_actions(&other.html),
        [format!("/account/sessions/{}/revoke", other.id)]
    );
    let all = form_actions(&page);
    let others: Vec<_> = all
        .iter()
        .filter(|a| a.ends_with("/revoke-others"))
        .collect();
    assert_eq!(others, ["/account/sessions/revoke-others"]);
    assert_eq!(all.iter().filter(|a| a.ends_with("/revoke")).count(), 1);
    // Every form carries the CSRF field.
    let fields = page.matches("name=\"csrf_token\"").count();
    assert!(fields >= all.len(), "{fields} CSRF fields for {all:?}");

    // The other browser sees the same two, itself current.
    let (_, theirs) = sessions_page(&phone).await;
    assert_eq!(theirs.len(), 2);
    let current = theirs.iter().find(|e| e.current).unwrap();
    assert_eq!(current.id, other.id);
    // No secret on the page: neither token nor its hash.
    for browser in [&laptop, &phone] {
        let cookie = browser.session_cookie().unwrap();
        assert!(!page.contains(cookie.value()));
        assert!(!page.contains(&browser.token_hash()[..16]));
    }
}

#[rocket::async_test]
async fn revoking_the_other_browser_signs_it_out_and_keeps_this_one() {
    let laptop = start("sessions-revoke").await;
    let phone = laptop.second_browser().await;
    login_as(&laptop, "alice", FIREFOX).await;
    login_as(&phone, "alice", SAFARI).await;
    let (_, list) = sessions_page(&laptop).await;
    let other = list.iter().find(|e| !e.current).unwrap();

    let action = format!("/account/sessions/{}/revoke", other.id);
    let (status, to, message) = post(&laptop, &action).await;
    assert_eq!(status, Status::SeeOther);
    assert_eq!(to, PAGE);
    assert_eq!(message, "Signed out of 1 session.");

    assert!(!signed_in(&phone).await, "the phone is signed out");
    assert!(signed_in(&laptop).await, "the laptop stays signed in");
    let (_, list) = sessions_page(&laptop).await;
    assert_eq!(list.len(), 1);
    assert!(list[0].current);

    // The same id again: it is no longer active, and nothing changes.
    let (_, to, message) = post(&laptop, &action).await;
    assert_eq!(to, PAGE);
    assert_eq!(message, "That session is no longer active.");
    assert!(signed_in(&laptop).await);
}

#[rocket::async_test]
async fn revoke_others_leaves_only_the_current_session() {
    let laptop = start("sessions-others").await;
    let phone = laptop.second_browser().await;
    let desktop = laptop.second_browser().await;
    login_as(&laptop, "alice", FIREFOX).await;
    login_as(&phone, "alice", SAFARI).await;
    login_as(&desktop, "alice", CHROME).await;
    let (_, list) = sessions_page(&desktop).await;
    assert_eq!(list.len(), 3);
    let current = list.iter().find(|e| e.current).unwrap().id.clone();

    let (status, to, message) = post(&desktop, "/account/sessions/revoke-others").await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, PAGE));
    assert_eq!(message, "Signed out of 2 sessions.");

    let (page, list) = sessions_page(&desktop).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id.as_str(), list[0].current),
        (current.as_str(), true)
    );
    assert!(page.contains("This browser is your only session."));
    assert!(!signed_in(&laptop).await);
    assert!(!signed_in(&phone).await);
    assert!(signed_in(&desktop).await);

    // Nothing left to end: said so, and still signed in.
    let (_, _, message) = post(&desktop, "/account/sessions/revoke-others").await;
    assert_eq!(message, "No other session was active.");
    assert!(signed_in(&desktop).await);
}

#[rocket::async_test]
async fn a_forged_id_or_another_users_session_changes_nothing() {
    let alice = start("sessions-foreign").await;
    let alice_phone = alice.second_browser().await;
    let bob = alice.second_browser().await;
    login_as(&alice, "alice", FIREFOX).await;
    login_as(&alice_phone, "alice", SAFARI).await;
    login_as(&bob, "bob", CHROME).await;
    let (_, bobs) = sessions_page(&bob).await;
    assert_eq!(bobs.len(), 1, "bob sees only his own");
    let bob_id = bobs[0].id.clone();
    let (_, before) = sessions_page(&alice).await;
    assert!(before.iter().all(|e| e.id != bob_id), "not on alice's page");

    let forged = "0123456789abcdef0123456789abcdef";
    for id in [bob_id.as_str(), forged, "not-an-id"] {
        let action = format!("/account/sessions/{id}/revoke");
        let (status, to, message) = post(&alice, &action).await;
        assert_eq!((status, to.as_str()), (Status::SeeOther, PAGE), "{id}");
        assert_eq!(message, "That session is no longer active.", "{id}");
    }

    assert!(signed_in(&bob).await, "bob stays signed in");
    assert!(signed_in(&alice_phone).await, "alice's phone too");
    assert!(signed_in(&alice).await);
    let (_, after) = sessions_page(&alice).await;
    let ids = |list: &[Entry]| list.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before));
    let (_, bobs) = sessions_page(&bob).await;
    assert_eq!(ids(&bobs), [bob_id]);
}

#[rocket::async_test]
async fn a_missing_or_foreign_csrf_token_is_refused_and_changes_nothing() {
    let laptop = start("sessions-csrf").await;
    let phone = laptop.second_browser().await;
    let stranger = laptop.second_browser().await;
    login_as(&laptop, "alice", FIREFOX).await;
    login_as(&phone, "alice", SAFARI).await;
    login_as(&stranger, "bob", CHROME).await;
    let (_, list) = sessions_page(&laptop).await;
    let other = list.iter().find(|e| !e.current).unwrap();
    let revoke = format!("/account/sessions/{}/revoke", other.id);
    // Another session's token (even the same user's) is not this one's.
    let phone_token = phone.csrf().await;
    let bob_token = stranger.csrf().await;

    for action in [revoke.as_str(), "/account/sessions/revoke-others"] {
        for fields in [
            vec![],
            vec![("csrf_token", "not-the-token")],
            vec![("csrf_token", phone_token.as_str())],
            vec![("csrf_token", bob_token.as_str())],
        ] {
            let response = laptop.post_form(action, &fields).await;
            assert_eq!(response.status(), Status::Forbidden, "{action} {fields:?}");
        }
    }

    assert!(signed_in(&phone).await, "nothing was revoked");
    assert!(signed_in(&stranger).await);
    assert!(signed_in(&laptop).await);
    assert_eq!(sessions_page(&laptop).await.1.len(), 2);
}

#[rocket::async_test]
async fn posts_without_a_login_go_to_the_login() {
    let app = start("sessions-anonymous").await;
    let (_, page) = app.page("/login").await;
    let token = csrf_token(&page).unwrap();
    for action in [
        "/account/sessions/0123456789abcdef0123456789abcdef/revoke",
        "/account/sessions/revoke-others",
    ] {
        let response = app.post_form(action, &[("csrf_token", &token)]).await;
        assert_eq!(response.status(), Status::SeeOther, "{action}");
        assert!(location(&response).starts_with("/login"), "{action}");
    }
}

#[rocket::async_test]
async fn ending_the_current_session_by_hand_is_a_sign_out() {
    let laptop = start("sessions-self").await;
    let phone = laptop.second_browser().await;
    login_as(&laptop, "alice", FIREFOX).await;
    login_as(&phone, "alice", SAFARI).await;
    let (_, list) = sessions_page(&laptop).await;
    let mine = list.iter().find(|e| e.current).unwrap();
    let action = format!("/account/sessions/{}/revoke", mine.id);
    let (status, to, message) = post(&laptop, &action).await;
    assert_eq!((status, to.as_str()), (Status::SeeOther, "/login"));
    assert_eq!(message, "You are signed out.");
    assert!(!signed_in(&laptop).await);
    assert!(signed_in(&phone).await, "only this one ended");
}
