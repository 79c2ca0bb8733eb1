//! `ROCKET_SESSION_SECURITY` in the environment configures the crate. A
//! binary of its own: it sets a process-wide variable.

use rocket_session_security::Config;

#[test]
fn the_environment_variable_is_read() {
    std::env::set_var(
        "ROCKET_SESSION_SECURITY",
        "{warn_after=5,expire_after=10,relogin=false}",
    );
    let config = Config::from_figment(&rocket::Config::figment()).expect("valid");
    assert_eq!(
        (config.warn_after, config.expire_after, config.relogin),
        (5, 10, false)
    );

    std::env::set_var("ROCKET_SESSION_SECURITY", "{warn_after=10,expire_after=5}");
    let error = Config::from_figment(&rocket::Config::figment()).expect_err("warn >= expire");
    assert_eq!(error.key, "warn_after");
    std::env::remove_var("ROCKET_SESSION_SECURITY");
}
