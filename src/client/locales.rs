//! The browser's strings in English and the original's ten locales, and the
//! choice among them from `Accept-Language`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rocket::Request;
use serde_json::Value;

use crate::runtime::Runtime;
use crate::session::state::RequestSession;

/// Locale code (`en`, `pt_BR`, …) to its strings.
fn locales() -> &'static BTreeMap<String, Value> {
    static LOCALES: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    LOCALES.get_or_init(|| {
        // Checked by a unit test, so a broken file never ships.
        serde_json::from_str(include_str!("locales.json")).unwrap_or_default()
    })
}

/// The locale used when nothing else matches.
pub(crate) const DEFAULT_LOCALE: &str = "en";

/// The strings of `locale`, or English.
pub(crate) fn strings(locale: &str) -> &'static Value {
    let all = locales();
    all.get(locale)
        .or_else(|| all.get(DEFAULT_LOCALE))
        .unwrap_or(&Value::Null)
}

/// The shipped locale that best matches a language tag (`pt-BR`, `de`,
/// `fr-CA`): exact region first, then the language alone.
pub(crate) fn match_tag(tag: &str) -> Option<&'static str> {
    let tag = tag.trim().replace('-', "_");
    let all = locales();
    let exact = all.keys().find(|k| k.eq_ignore_ascii_case(&tag));
    let language = tag.split('_').next().unwrap_or_default();
    let same_language = || {
        all.keys().find(|k| {
            k.split('_')
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case(language))
        })
    };
    exact.or_else(same_language).map(String::as_str)
}

/// The best shipped locale for an `Accept-Language` header, by q-value.
pub(crate) fn negotiate(accept_language: Option<&str>) -> &'static str {
    let Some(header) = accept_language else {
        return DEFAULT_LOCALE;
    };
    let mut wanted: Vec<(f32, &str)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (q > 0.0 && !tag.is_empty()).then_some((q, tag))
        })
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
    wanted
        .iter()
        .find_map(|(_, tag)| match_tag(tag))
        .unwrap_or(DEFAULT_LOCALE)
}

/// The shipped locale for `request`, chosen once per request: the
/// application's hook's choice if it names one we ship, else the best
/// `Accept-Language` match.
pub(crate) fn of_request<'s>(
    session: &'s RequestSession,
    runtime: &Runtime,
    request: &Request<'_>,
) -> &'s str {
    session.locale(|| {
        let chosen = runtime
            .locale
            .as_ref()
            .and_then(|hook| hook.locale(request));
        chosen
            .as_deref()
            .and_then(match_tag)
            .unwrap_or_else(|| negotiate(request.headers().get_one("Accept-Language")))
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_has_every_english_key() {
        let all = locales();
        let english = all["en"].as_object().expect("en strings");
        assert!(all.len() >= 11, "en plus the original's ten locales");
        for (code, strings) in all {
            for key in english.keys() {
                assert!(strings.get(key).is_some(), "{code} lacks {key}");
            }
        }
    }

    #[test]
    fn accept_language_picks_best_shipped_locale() {
        assert_eq!(negotiate(None), "en");
        assert_eq!(negotiate(Some("de-DE,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(negotiate(Some("ja,pt-BR;q=0.5")), "pt_BR");
        assert_eq!(negotiate(Some("en;q=0.1, fr;q=0.9")), "fr");
        assert_eq!(negotiate(Some("xx, *;q=0.1")), "en");
        assert_eq!(negotiate(Some("nl;q=0")), "en");
    }
}
