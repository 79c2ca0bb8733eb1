//! Minifies the browser script and stylesheet into `OUT_DIR`, so the crate
//! serves small files while the repository keeps the commented source. The
//! minifier drops comments and whitespace only: names stay, so what runs
//! in the browser reads like the source.

use std::path::Path;
use std::{env, fs};

fn main() {
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["script.js", "style.css", "after_relogin.js"] {
        let source = format!("static/session_security/{name}");
        println!("cargo:rerun-if-changed={source}");
        let text = fs::read_to_string(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let small = if name.ends_with(".css") {
            minifier::css::minify(&text)
                .unwrap_or_else(|e| panic!("{source}: {e}"))
                .to_string()
        } else {
            minifier::js::minify(&text).to_string()
        };
        fs::write(Path::new(&out).join(name), small).expect("OUT_DIR is writable");
    }
}
