//! A configuration value as the user gave it ([`Value`]), the librdkafka
//! properties it turns into ([`Properties`]), and how both are shown in errors:
//! never a secret's value.

use std::collections::BTreeMap;

use crate::errors::Error;

/// A configuration value as given by the user, before translation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<String>),
}

impl Value {
    /// Render for messages; never used for secrets (see [`redacted`]).
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::List(l) => format!("{l:?}"),
        }
    }
}

/// Properties whose values must never appear in a repr, a log line or an error.
pub fn is_secret(property: &str) -> bool {
    property.contains("password")
        || property.contains("secret")
        || property.ends_with(".pem")
        || property == "sasl.oauthbearer.config"
        || property == "ssl.key.pem"
}

pub fn redacted<'a>(property: &str, value: &'a str) -> &'a str {
    if is_secret(property) {
        "********"
    } else {
        value
    }
}

/// The librdkafka properties a user's options turn into, in a stable order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Properties(pub BTreeMap<String, String>);

impl Properties {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// `ConfigError` for option `name`'s `value` (masked if secret): what was expected.
pub fn bad_value(name: &str, value: &Value, expected: &str) -> Error {
    let shown = if is_secret(name) {
        "********".to_string()
    } else {
        value.describe()
    };
    Error::Config(format!(
        "invalid value for '{name}': {shown} (expected {expected})"
    ))
}
