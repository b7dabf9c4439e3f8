//! [`ConfigError`]: what went wrong in a configuration, always naming the key.

use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike};

/// A configuration error, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not match the schema: an unknown key, a wrong type, a value
    /// that is not one of the allowed spellings (the message lists them). The message has the
    /// line, column and the offending line; `key` is the dotted key it belongs to, when the
    /// error points at one.
    #[error("{}{error}", key.as_ref().map_or(String::new(), |k| format!("`{k}`: ")))]
    Toml {
        /// Dotted key (`live.auth`), when the error points at a key or its value.
        key: Option<String>,
        /// The parser's error (in the message, not a source: printed once).
        error: toml::de::Error,
    },
    /// A value out of its range.
    #[error("`{field}` = {value}: {why}")]
    Value {
        /// Dotted key.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// What is expected.
        why: &'static str,
    },
    /// A value out of its range under a key built at run time (per-underlying overrides).
    #[error("`{key}` = {value}: {why}")]
    Key {
        /// Dotted key (`options.underlying.ETH.garch.alpha`).
        key: String,
        /// The offending value, as written.
        value: String,
        /// What is expected.
        why: &'static str,
    },
}

impl ConfigError {
    /// A parser error on `text`, with the dotted key it points at.
    pub(crate) fn toml(text: &str, error: toml::de::Error) -> Self {
        let key = error.span().and_then(|at| key_at(text, &at));
        Self::Toml { key, error }
    }
}

/// A value out of its range.
pub(crate) fn bad(field: &'static str, value: impl ToString, why: &'static str) -> ConfigError {
    ConfigError::Value {
        field,
        value: value.to_string(),
        why,
    }
}

/// The dotted key whose name or value holds the start of `span` in `text` (the innermost one: a
/// key inside a table before the table's header). `None` when the text does not parse or the
/// span falls between keys.
fn key_at(text: &str, span: &Range<usize>) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    let mut found = None;
    walk(doc.as_table(), "", span.start, &mut found);
    found
}

fn walk(table: &dyn TableLike, prefix: &str, at: usize, found: &mut Option<String>) {
    let holds = |r: Option<Range<usize>>| r.is_some_and(|r| r.contains(&at) || r.start == at);
    for (name, item) in table.iter() {
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        let own = holds(table.key(name).and_then(toml_edit::Key::span));
        match item {
            Item::ArrayOfTables(tables) => {
                for t in tables.iter() {
                    if holds(t.span()) {
                        *found = Some(path.clone());
                    }
                    walk(t, &path, at, found);
                }
            }
            _ => {
                if own || holds(item.span()) {
                    *found = Some(path.clone());
                }
                if let Some(t) = item.as_table_like() {
                    walk(t, &path, at, found);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_at_names_nested_and_array_keys() {
        let text = "a = 1\n[live]\nauth = \"rsa\"\n[options.surface]\niv_source = \"bid\"\n\
                    [[options.book]]\nsymbol = \"X\"\n";
        let at = |needle: &str| {
            let i = text.find(needle).unwrap();
            key_at(text, &(i..i + needle.len()))
        };
        assert_eq!(at("1").as_deref(), Some("a"));
        assert_eq!(at("\"rsa\"").as_deref(), Some("live.auth"));
        assert_eq!(at("auth").as_deref(), Some("live.auth"));
        assert_eq!(at("\"bid\"").as_deref(), Some("options.surface.iv_source"));
        assert_eq!(at("\"X\"").as_deref(), Some("options.book.symbol"));
    }
}
