//! Producer configuration: validate the Python-side names (kafka-python / aiokafka
//! snake_case, or raw librdkafka dotted properties) and translate them into the
//! librdkafka properties the client is created with.
//!
//! The translation is pure Rust over [`Value`] so it is unit-tested without Python;
//! `producer.rs` converts Python objects into [`Value`]s.

pub mod from_py;
pub mod librdkafka;
pub mod value;

use crate::errors::{Error, Result};
use crate::suggest;
use librdkafka::{render_float, set_raw, DEFAULTS, RDKAFKA_INT_MAX};
use value::bad_value;
pub use value::{is_secret, redacted, Properties, Value};

/// How a snake_case name becomes librdkafka properties.
#[derive(Clone, Copy)]
enum Rule {
    /// Same meaning, different name; value rendered as-is (strings, numbers, bools).
    Rename(&'static str),
    /// A non-negative integer (milliseconds, counts, bytes).
    Count(&'static str),
    /// A string; `None` leaves the property at librdkafka's default.
    Text(&'static str),
    /// `true`/`false`.
    Flag(&'static str),
    /// One of a fixed set of strings (case-insensitive), stored in canonical case.
    Choice(&'static str, &'static [&'static str]),
    BootstrapServers,
    Acks,
    Retries,
    BufferMemory,
    CompressionType,
    CheckHostname,
    /// kafka-python options that mean nothing for librdkafka; accepted and ignored.
    Ignored,
}

const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const SASL_MECHANISMS: &[&str] = &[
    "PLAIN",
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "OAUTHBEARER",
    "GSSAPI",
];
const PARTITIONERS: &[&str] = &[
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
];

/// Every snake_case name we accept, kafka-python's and aiokafka's producer options.
const RULES: &[(&str, Rule)] = &[
    ("bootstrap_servers", Rule::BootstrapServers),
    ("client_id", Rule::Text("client.id")),
    ("acks", Rule::Acks),
    ("retries", Rule::Retries),
    ("batch_size", Rule::Count("batch.size")),
    ("max_batch_size", Rule::Count("batch.size")),
    ("linger_ms", Rule::Rename("linger.ms")),
    ("buffer_memory", Rule::BufferMemory),
    ("compression_type", Rule::CompressionType),
    ("max_request_size", Rule::Count("message.max.bytes")),
    ("request_timeout_ms", Rule::Count("request.timeout.ms")),
    ("delivery_timeout_ms", Rule::Count("delivery.timeout.ms")),
    ("enable_idempotence", Rule::Flag("enable.idempotence")),
    (
        "max_in_flight_requests_per_connection",
        Rule::Count("max.in.flight.requests.per.connection"),
    ),
    ("transactional_id", Rule::Text("transactional.id")),
    (
        "transaction_timeout_ms",
        Rule::Count("transaction.timeout.ms"),
    ),
    (
        "security_protocol",
        Rule::Choice("security.protocol", SECURITY_PROTOCOLS),
    ),
    (
        "sasl_mechanism",
        Rule::Choice("sasl.mechanism", SASL_MECHANISMS),
    ),
    ("sasl_plain_username", Rule::Text("sasl.username")),
    ("sasl_plain_password", Rule::Text("sasl.password")),
    ("sasl_username", Rule::Text("sasl.username")),
    ("sasl_password", Rule::Text("sasl.password")),
    (
        "sasl_kerberos_service_name",
        Rule::Text("sasl.kerberos.service.name"),
    ),
    ("ssl_cafile", Rule::Text("ssl.ca.location")),
    ("ssl_certfile", Rule::Text("ssl.certificate.location")),
    ("ssl_keyfile", Rule::Text("ssl.key.location")),
    ("ssl_password", Rule::Text("ssl.key.password")),
    ("ssl_crlfile", Rule::Text("ssl.crl.location")),
    ("ssl_ciphers", Rule::Text("ssl.cipher.suites")),
    ("ssl_check_hostname", Rule::CheckHostname),
    ("metadata_max_age_ms", Rule::Count("metadata.max.age.ms")),
    ("retry_backoff_ms", Rule::Count("retry.backoff.ms")),
    ("reconnect_backoff_ms", Rule::Count("reconnect.backoff.ms")),
    (
        "reconnect_backoff_max_ms",
        Rule::Count("reconnect.backoff.max.ms"),
    ),
    (
        "connections_max_idle_ms",
        Rule::Count("connections.max.idle.ms"),
    ),
    (
        "receive_buffer_bytes",
        Rule::Count("socket.receive.buffer.bytes"),
    ),
    ("send_buffer_bytes", Rule::Count("socket.send.buffer.bytes")),
    ("partitioner", Rule::Choice("partitioner", PARTITIONERS)),
    ("api_version", Rule::Ignored),
    ("api_version_auto_timeout_ms", Rule::Ignored),
    ("metric_reporters", Rule::Ignored),
    ("metrics_num_samples", Rule::Ignored),
    ("metrics_sample_window_ms", Rule::Ignored),
    ("selector", Rule::Ignored),
];

/// The names users may pass as keywords (for suggestions and documentation).
pub fn known_names() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(name, _)| *name)
}

fn lookup(name: &str) -> Option<Rule> {
    RULES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Whether `translate` takes keyword-style option `name`: one of [`RULES`], or a
/// librdkafka property spelled with `_` (`queue_buffering_max_kbytes`). The shims
/// ask this (`_kafkify._core_accepts`) rather than keep a list of their own.
pub fn accepts(name: &str, rdkafka_properties: &[String]) -> bool {
    if name.contains('.') {
        return rdkafka_properties.iter().any(|p| p == name);
    }
    lookup(name).is_some() || rdkafka_properties.contains(&name.replace('_', "."))
}

/// Translate user options into librdkafka properties, on top of [`DEFAULTS`].
///
/// `options` are keyword-style names (snake_case, or dotted librdkafka names);
/// `raw` are librdkafka properties passed through as given (applied last, so they win).
/// `is_rdkafka_property` tells whether a dotted name is one librdkafka knows; it is
/// used to accept `queue_buffering_max_kbytes`-style spellings and to suggest names.
pub fn translate(
    options: &[(String, Value)],
    raw: &[(String, Value)],
    rdkafka_properties: &[String],
) -> Result<Properties> {
    let mut props = Properties::default();
    for (k, v) in DEFAULTS {
        props.0.insert((*k).into(), (*v).into());
    }
    for (name, value) in options {
        if name.contains('.') {
            set_raw(&mut props, name, name, value)?;
            continue;
        }
        match lookup(name) {
            Some(rule) => apply(&mut props, name, rule, value)?,
            None => {
                let dotted = name.replace('_', ".");
                if rdkafka_properties.contains(&dotted) {
                    set_raw(&mut props, name, &dotted, value)?;
                } else {
                    return Err(unknown_name(name, rdkafka_properties));
                }
            }
        }
    }
    for (name, value) in raw {
        set_raw(&mut props, name, name, value)?;
    }
    relax_default_idempotence(&mut props, options, raw);
    client_side_request_timeout(&mut props, options, raw);
    Ok(props)
}

/// librdkafka's bounds for `socket.timeout.ms`.
const SOCKET_TIMEOUT_MS: (u64, u64) = (10, 300_000);

/// kafka-python's and aiokafka's `request_timeout_ms` is the client's own limit: a
/// request not answered by then is abandoned and retried (on a new leader, if the
/// old one froze). librdkafka's `request.timeout.ms` is only the broker's acks wait;
/// the client-side limit is `socket.timeout.ms` (60 s by default). So the snake_case
/// option sets both, unless the caller also set the socket timeout. Measured on a
/// 3-node Kafka with the leader SIGSTOPped (tests/test_failover.py): with only
/// `request.timeout.ms=3000` the frozen partitions answered after 61 s.
fn client_side_request_timeout(
    props: &mut Properties,
    options: &[(String, Value)],
    raw: &[(String, Value)],
) {
    let asked = options.iter().any(|(name, _)| name == "request_timeout_ms");
    let socket_explicit = options
        .iter()
        .chain(raw)
        .any(|(name, _)| name == "socket_timeout_ms" || name == "socket.timeout.ms");
    if !asked || socket_explicit {
        return;
    }
    if let Some(ms) = props
        .get("request.timeout.ms")
        .and_then(|v| v.parse::<u64>().ok())
    {
        let ms = ms.clamp(SOCKET_TIMEOUT_MS.0, SOCKET_TIMEOUT_MS.1);
        props.0.insert("socket.timeout.ms".into(), ms.to_string());
    }
}

/// Idempotence is our default, but it requires acks=all. As the Java client does
/// (KIP-679), a user who asks for acks=0/1 without mentioning idempotence gets it
/// turned off rather than an error; asking for both explicitly is still an error.
fn relax_default_idempotence(
    props: &mut Properties,
    options: &[(String, Value)],
    raw: &[(String, Value)],
) {
    let explicit = options
        .iter()
        .chain(raw)
        .any(|(name, _)| name == "enable_idempotence" || name == "enable.idempotence");
    let acks_all = matches!(props.get("acks"), Some("all" | "-1"));
    if !explicit && !acks_all {
        props.0.insert("enable.idempotence".into(), "false".into());
    }
}

/// `ConfigError` for an unknown option, with the closest known name if one is close.
pub fn unknown_name(name: &str, rdkafka_properties: &[String]) -> Error {
    let mut candidates: Vec<&str> = known_names().collect();
    candidates.extend(rdkafka_properties.iter().map(String::as_str));
    let hint = match suggest::closest(name, candidates, str::to_owned) {
        Some(c) => format!("; did you mean {c:?}?"),
        None => String::new(),
    };
    Error::Config(format!("unknown configuration option {name:?}{hint}"))
}

fn apply(props: &mut Properties, name: &str, rule: Rule, value: &Value) -> Result<()> {
    let mut put = |k: &str, v: String| {
        props.0.insert(k.into(), v);
    };
    match rule {
        Rule::Ignored => {}
        Rule::Rename(prop) => match value {
            // librdkafka's range checks let NaN through (every comparison is false).
            Value::Float(f) if f.is_nan() => return Err(bad_value(name, value, "a number")),
            Value::Int(_) | Value::Float(_) | Value::Str(_) => set_raw(props, name, prop, value)?,
            Value::None => {
                props.0.remove(prop);
            }
            _ => return Err(bad_value(name, value, "a number")),
        },
        Rule::Count(prop) => match value {
            Value::Int(i) if *i > RDKAFKA_INT_MAX => {
                return Err(bad_value(
                    name,
                    value,
                    "a non-negative integer up to 2147483647",
                ))
            }
            Value::Int(i) if *i >= 0 => put(prop, i.to_string()),
            Value::Float(f) if *f > RDKAFKA_INT_MAX as f64 => {
                return Err(bad_value(
                    name,
                    value,
                    "a non-negative integer up to 2147483647",
                ))
            }
            Value::Float(f) if *f >= 0.0 && f.fract() == 0.0 => put(prop, render_float(*f)),
            Value::None => {
                props.0.remove(prop);
            }
            _ => return Err(bad_value(name, value, "a non-negative integer")),
        },
        Rule::Text(prop) => match value {
            Value::Str(s) => put(prop, s.clone()),
            Value::None => {
                props.0.remove(prop);
            }
            _ => return Err(bad_value(name, value, "a string")),
        },
        Rule::Flag(prop) => match value {
            Value::Bool(b) => put(prop, b.to_string()),
            _ => return Err(bad_value(name, value, "True or False")),
        },
        Rule::Choice(prop, allowed) => match value {
            Value::Str(s) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(s)) {
                Some(canonical) => put(prop, (*canonical).into()),
                None => return Err(bad_value(name, value, &format!("one of {allowed:?}"))),
            },
            Value::None => {
                props.0.remove(prop);
            }
            _ => return Err(bad_value(name, value, &format!("one of {allowed:?}"))),
        },
        Rule::BootstrapServers => match value {
            Value::Str(s) if !s.trim().is_empty() => put("bootstrap.servers", s.trim().into()),
            Value::List(l) if !l.is_empty() => put("bootstrap.servers", l.join(",")),
            _ => {
                return Err(bad_value(
                    name,
                    value,
                    "\"host:port\", \"h1:port,h2:port\" or a list of \"host:port\"",
                ))
            }
        },
        Rule::Acks => {
            let acks = match value {
                Value::Int(i @ -1..=1) => i.to_string(),
                Value::Str(s) if s.eq_ignore_ascii_case("all") => "all".into(),
                Value::Str(s) if ["0", "1", "-1"].contains(&s.as_str()) => s.clone(),
                _ => return Err(bad_value(name, value, "0, 1, -1 or \"all\"")),
            };
            put("acks", acks);
        }
        Rule::Retries => match value {
            Value::Int(i) if *i >= 0 => put("retries", (*i).min(i32::MAX as i64).to_string()),
            // kafka-python's default is float("inf"): retry until delivery.timeout.ms.
            Value::Float(f) if f.is_infinite() && *f > 0.0 => put("retries", i32::MAX.to_string()),
            Value::Float(f) if *f >= 0.0 && f.fract() == 0.0 => put("retries", render_float(*f)),
            _ => return Err(bad_value(name, value, "a non-negative integer")),
        },
        Rule::BufferMemory => match value {
            // kafka-python counts bytes; librdkafka counts kilobytes.
            Value::Int(i) if *i > 0 && (*i - 1) / 1024 < RDKAFKA_INT_MAX => put(
                "queue.buffering.max.kbytes",
                ((*i - 1) / 1024 + 1).to_string(),
            ),
            _ => return Err(bad_value(name, value, "a positive number of bytes")),
        },
        Rule::CompressionType => match value {
            Value::None => put("compression.type", "none".into()),
            Value::Str(s) => {
                let lower = s.to_ascii_lowercase();
                if ["none", "gzip", "snappy", "lz4", "zstd"].contains(&lower.as_str()) {
                    put("compression.type", lower);
                } else {
                    return Err(bad_value(
                        name,
                        value,
                        "None, \"gzip\", \"snappy\", \"lz4\" or \"zstd\"",
                    ));
                }
            }
            _ => {
                return Err(bad_value(
                    name,
                    value,
                    "None, \"gzip\", \"snappy\", \"lz4\" or \"zstd\"",
                ))
            }
        },
        Rule::CheckHostname => match value {
            Value::Bool(b) => put(
                "ssl.endpoint.identification.algorithm",
                if *b { "https" } else { "none" }.into(),
            ),
            _ => return Err(bad_value(name, value, "True or False")),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    fn rd() -> Vec<String> {
        [
            "queue.buffering.max.kbytes",
            "linger.ms",
            "socket.timeout.ms",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn defaults_are_safe_and_fast() {
        let p = translate(&[], &[], &rd()).unwrap();
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("compression.type"), Some("lz4"));
        assert_eq!(p.get("linger.ms"), Some("5"));
    }

    #[test]
    fn kafka_python_names_translate() {
        let p = translate(
            &opts(&[
                (
                    "bootstrap_servers",
                    Value::List(vec!["a:1".into(), "b:2".into()]),
                ),
                ("acks", Value::Int(1)),
                ("retries", Value::Float(f64::INFINITY)),
                ("buffer_memory", Value::Int(33554432)),
                ("compression_type", Value::None),
                ("ssl_check_hostname", Value::Bool(false)),
                ("security_protocol", Value::Str("sasl_ssl".into())),
                ("linger_ms", Value::Float(2.5)),
            ]),
            &[],
            &rd(),
        )
        .unwrap();
        assert_eq!(p.get("bootstrap.servers"), Some("a:1,b:2"));
        assert_eq!(p.get("acks"), Some("1"));
        assert_eq!(p.get("retries"), Some("2147483647"));
        assert_eq!(p.get("queue.buffering.max.kbytes"), Some("32768"));
        assert_eq!(p.get("compression.type"), Some("none"));
        assert_eq!(p.get("ssl.endpoint.identification.algorithm"), Some("none"));
        assert_eq!(p.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(p.get("linger.ms"), Some("2.5"));
    }

    #[test]
    fn acks_below_all_turns_default_idempotence_off() {
        let p = translate(&opts(&[("acks", Value::Int(1))]), &[], &rd()).unwrap();
        assert_eq!(p.get("enable.idempotence"), Some("false"));
        let p = translate(
            &opts(&[
                ("acks", Value::Int(1)),
                ("enable_idempotence", Value::Bool(true)),
            ]),
            &[],
            &rd(),
        )
        .unwrap();
        assert_eq!(p.get("enable.idempotence"), Some("true")); // librdkafka will refuse
    }

    #[test]
    fn raw_properties_pass_through_and_win() {
        let p = translate(
            &opts(&[("linger_ms", Value::Int(1))]),
            &opts(&[
                ("linger.ms", Value::Int(7)),
                ("queue.buffering.max.kbytes", Value::Int(65536)),
            ]),
            &rd(),
        )
        .unwrap();
        assert_eq!(p.get("linger.ms"), Some("7"));
        assert_eq!(p.get("queue.buffering.max.kbytes"), Some("65536"));
    }

    #[test]
    fn underscore_spelling_of_a_librdkafka_property_is_accepted() {
        let p = translate(&opts(&[("socket_timeout_ms", Value::Int(100))]), &[], &rd()).unwrap();
        assert_eq!(p.get("socket.timeout.ms"), Some("100"));
        let p = translate(
            &opts(&[("request_timeout_ms", Value::Int(3000))]),
            &[],
            &rd(),
        )
        .unwrap();
        assert_eq!(p.get("request.timeout.ms"), Some("3000"));
        assert_eq!(p.get("socket.timeout.ms"), Some("3000"));
        let both = [
            ("socket_timeout_ms", Value::Int(100)),
            ("request_timeout_ms", Value::Int(3000)),
        ];
        let p = translate(&opts(&both), &[], &rd()).unwrap();
        assert_eq!(p.get("socket.timeout.ms"), Some("100"));
        let p = translate(
            &opts(&[("request_timeout_ms", Value::Int(900_000))]),
            &[],
            &rd(),
        );
        assert_eq!(p.unwrap().get("socket.timeout.ms"), Some("300000"));
    }

    #[test]
    fn misspelt_name_gets_a_suggestion() {
        let err = translate(&opts(&[("linger_mss", Value::Int(1))]), &[], &rd()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"linger_mss\""), "{msg}");
        assert!(msg.contains("did you mean \"linger_ms\""), "{msg}");
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let err = translate(&opts(&[("acks", Value::Str("most".into()))]), &[], &rd())
            .unwrap_err()
            .to_string();
        assert!(err.contains("'acks'") && err.contains("\"most\""), "{err}");
        let err = translate(&opts(&[("batch_size", Value::Int(-1))]), &[], &rd())
            .unwrap_err()
            .to_string();
        assert!(err.contains("'batch_size'") && err.contains("-1"), "{err}");
    }

    #[test]
    fn secret_values_never_appear_in_errors() {
        let err = translate(
            &opts(&[("sasl_plain_password", Value::Int(123456))]),
            &[],
            &rd(),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("123456"), "{err}");
        assert_eq!(redacted("sasl.password", "hunter2"), "********");
        assert_eq!(redacted("client.id", "svc"), "svc");
    }

    /// librdkafka keeps a number past 32 bits truncated (issue 10, defect 10): such
    /// a value, and NaN, must fail naming the option the user wrote.
    #[test]
    fn numbers_librdkafka_would_truncate_are_refused_by_name() {
        let huge = Value::Int(1 << 40);
        let cases = [
            (
                opts(&[("delivery_timeout_ms", huge.clone())]),
                vec![],
                "'delivery_timeout_ms'",
            ),
            (opts(&[("linger_ms", huge.clone())]), vec![], "'linger_ms'"),
            (
                opts(&[("linger_ms", Value::Float(f64::NAN))]),
                vec![],
                "'linger_ms'",
            ),
            (
                opts(&[("batch_size", Value::Float(1e308))]),
                vec![],
                "'batch_size'",
            ),
            (
                opts(&[("buffer_memory", Value::Int(i64::MAX))]),
                vec![],
                "'buffer_memory'",
            ),
            (
                vec![],
                opts(&[("linger.ms", Value::Int(i64::MIN))]),
                "'linger.ms'",
            ),
            (
                vec![],
                opts(&[("linger.ms", Value::Float(f64::NAN))]),
                "'linger.ms'",
            ),
        ];
        for (named, raw, option) in cases {
            let err = translate(&named, &raw, &rd()).unwrap_err().to_string();
            assert!(err.contains(option), "{err}");
        }
        let ok = translate(
            &opts(&[("batch_size", Value::Int(i32::MAX.into()))]),
            &[],
            &rd(),
        );
        assert_eq!(ok.unwrap().get("batch.size"), Some("2147483647"));
    }
}
