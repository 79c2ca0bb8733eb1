//! Form checks with messages meant for people, collected per field so the
//! form can show each one next to its field.

use crate::layout::FieldErrors;

/// Longest free-text field (notes), in characters; Rocket's default 32 KiB
/// form limit still applies on top.
pub const MAX_TEXT: usize = 10_000;
/// Longest one-line field, in characters.
pub const MAX_LINE: usize = 200;

/// Collects the first error of each field.
#[derive(Debug, Default)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    /// A validator with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` for `field` unless it already has an error.
    pub fn fail(&mut self, field: &'static str, message: impl Into<String>) {
        self.errors.entry(field).or_insert_with(|| message.into());
    }

    /// Whether `field` already failed.
    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// A non-blank value of at most `max` characters.
    pub fn required(&mut self, field: &'static str, value: &str, what: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(field, format!("Please enter {what}."));
        }
        self.max_len(field, value, max);
    }

    /// At most `max` characters.
    pub fn max_len(&mut self, field: &'static str, value: &str, max: usize) {
        let len = value.chars().count();
        if len > max {
            self.fail(
                field,
                format!("Please keep this under {max} characters (it has {len})."),
            );
        }
    }

    /// Something that can be an e-mail address: `local@domain.tld`, no spaces.
    pub fn email(&mut self, field: &'static str, value: &str) {
        let value = value.trim();
        let plausible = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !value.is_empty() && !plausible {
            self.fail(
                field,
                "This does not look like an e-mail address (name@example.com).",
            );
        }
    }

    /// Empty, or an `http://` or `https://` address.
    pub fn web_address(&mut self, field: &'static str, value: &str) {
        let value = value.trim();
        let ok = value.is_empty()
            || ((value.starts_with("https://") || value.starts_with("http://"))
                && value.len() > "https://".len()
                && !value.chars().any(char::is_whitespace));
        if !ok {
            self.fail(field, "Please enter a web address starting with https://.");
        }
    }

    /// The errors, if any.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// An optional id from a `<select>`: `""` is none, anything else must be a
/// positive integer (or the field fails).
pub fn optional_id(v: &mut Validator, field: &'static str, value: &str) -> Option<i64> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match value.parse::<i64>() {
        Ok(id) if id > 0 => Some(id),
        _ => {
            v.fail(field, "Please pick one from the list.");
            None
        }
    }
}

/// An amount such as `12500`, `12,500.50` or `$ 12 500` in cents.
pub fn parse_money(value: &str) -> Option<i64> {
    let cleaned: String = value
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '_'))
        .collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 12 {
        return None;
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parsing() {
        assert_eq!(parse_money("12500"), Some(1_250_000));
        assert_eq!(parse_money("$12,500.5"), Some(1_250_050));
        assert_eq!(parse_money("0"), Some(0));
        assert_eq!(parse_money("-5"), None);
        assert_eq!(parse_money("1.234"), None);
        assert_eq!(parse_money("lots"), None);
        assert_eq!(parse_money(""), None);
    }

    #[test]
    fn emails() {
        for (value, ok) in [
            ("ana@example.com", true),
            ("", true),
            ("ana@example", false),
            ("ana example.com", false),
            ("a@b@c.com", false),
            ("ana @example.com", false),
        ] {
            let mut v = Validator::new();
            v.email("email", value);
            assert_eq!(v.finish().is_ok(), ok, "{value}");
        }
    }
}
