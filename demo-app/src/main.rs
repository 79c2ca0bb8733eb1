//! `cargo run -p demo-app`: serves Harbor CRM on 127.0.0.1:8000
//! (`ROCKET_PORT` and the rest of Rocket's configuration apply).

#[rocket::launch]
fn rocket() -> _ {
    demo_app::rocket()
}
