//! When the brokers refuse this client (authentication, TLS), its waiting records
//! fail with the refusal instead of waiting out `delivery.timeout.ms`.
//!
//! librdkafka treats a wrong password, an untrusted broker certificate or a
//! hostname mismatch like any connection failure: it reports the error to the
//! error callback (`_AUTHENTICATION`, `_SSL`) and reconnects, again and again, while
//! the records wait until their delivery timeout (2 minutes by default) and then
//! fail as "Message timed out". confluent-kafka's users see exactly that. Nothing
//! but new credentials or certificates will let them through, so kafkify fails them
//! as soon as the refusal is known to be the whole story:
//!
//! - a refusal is remembered as the latest connection error (`Refusals::error`); any
//!   other connection error (a broker that is simply down) forgets it;
//! - once librdkafka says all brokers are down (`_ALL_BROKERS_DOWN`) while the latest
//!   error is a refusal, and on every refusal after that, the records queued in
//!   librdkafka (none of which can have been sent) are purged, and each purged
//!   record's report carries the refusal (`Refusals::cause`): e.g. a blocking `send`
//!   raises `AuthenticationError: delivery to topic "t" failed: SASL authentication
//!   error: ... invalid credentials`;
//! - while every broker is down and the latest error is a refusal, a metadata wait
//!   (`start()`, `list_topics`, `partitions_for`) fails with it too (`standing`);
//! - a successful delivery means some broker took us: the state is cleared.
//!
//! librdkafka reports a refusal again on each reconnect (every ~0.5 s on loopback,
//! backing off to `reconnect.backoff.max.ms`), so a record sent while brokers still
//! refuse fails at the next attempt. A broker that rejects our client certificate
//! (mTLS) shows up as a transport failure whose reason is an SSL alert; that counts
//! as a TLS refusal too, and so does a transport failure whose reason is OpenSSL's
//! "certificate verify failed" (librdkafka's other path for an untrusted broker).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rdkafka::types::RDKafkaErrorCode as Code;

use crate::errors::Error;

/// One producer's view of whether the brokers refuse it.
#[derive(Default)]
pub struct Refusals {
    /// librdkafka said all brokers are down, and no record was delivered since.
    all_down: AtomicBool,
    /// The latest connection error, when it was a refusal: its code and reason.
    latest: Mutex<Option<(Code, String)>>,
}

impl Refusals {
    /// A global error from librdkafka; true when the queued records should be
    /// purged now (they can go nowhere: every broker is down and refuses us).
    pub fn error(&self, code: Code, reason: &str) -> bool {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        match refusal(code, reason) {
            Some(refused) => {
                *latest = Some(refused);
                self.all_down.load(Ordering::Acquire)
            }
            None if code == Code::AllBrokersDown => {
                self.all_down.store(true, Ordering::Release);
                latest.is_some()
            }
            None if is_connection_error(code) => {
                *latest = None;
                false
            }
            None => false,
        }
    }

    /// A record was delivered: a broker accepted this client.
    pub fn delivered(&self) {
        // One relaxed load per report on the hot path; the store is rare.
        if self.all_down.load(Ordering::Relaxed) {
            self.all_down.store(false, Ordering::Release);
            *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// The error to report for a record that failed with `code`, when it was purged
    /// because the brokers refuse us; None: report `code` itself.
    pub fn cause(&self, code: Option<Code>, context: &str) -> Option<Error> {
        if code? != Code::PurgeQueue {
            return None;
        }
        self.latest_refusal(context)
    }

    /// The refusal, while every broker is down and refuses us: a metadata wait
    /// (`cluster::fetch_metadata`) fails with it instead of waiting out its timeout.
    pub fn standing(&self, context: &str) -> Option<Error> {
        if !self.all_down.load(Ordering::Acquire) {
            return None;
        }
        self.latest_refusal(context)
    }

    fn latest_refusal(&self, context: &str) -> Option<Error> {
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let (code, reason) = latest.as_ref()?;
        Some(Error::Kafka {
            code: *code,
            message: format!(
                "{context}: the broker refused the connection: {reason}{}",
                hint(*code, reason)
            ),
            fatal: false,
        })
    }
}

/// What librdkafka's TLS message leaves out: "certificate verify failed" reads
/// the same for an unknown CA and for a certificate that names another host.
fn hint(code: Code, reason: &str) -> &'static str {
    if code == Code::SSL && reason.contains("certificate verify failed") {
        " [either no CA in ssl_cafile (ssl.ca.location) signed the broker's certificate, \
         or the certificate does not name the host in bootstrap_servers (checked unless \
         ssl_check_hostname=False)]"
    } else {
        ""
    }
}

/// The refusal behind a connection error, as the code and reason to report (`SSL`
/// for a TLS failure that librdkafka calls a transport failure), or None when the
/// error is not a refusal.
fn refusal(code: Code, reason: &str) -> Option<(Code, String)> {
    match code {
        Code::Authentication | Code::SaslAuthenticationFailed | Code::SSL => {
            Some((code, reason.to_owned()))
        }
        // The broker's TLS alert, e.g. "ssl/tls alert bad certificate" when it
        // requires a client certificate we did not send.
        Code::BrokerTransportFailure if reason.contains("ssl/tls alert") => {
            Some((Code::SSL, reason.to_owned()))
        }
        // A broker certificate we cannot verify, found by a socket write during the
        // handshake before SSL_do_handshake found it (librdkafka's rdkafka_ssl.c,
        // `rd_kafka_transport_ssl_io_event`; seen under load in CI): the same refusal
        // as "SSL handshake failed: ... certificate verify failed", reported as a
        // transport failure without that prefix. Reported the usual way.
        Code::BrokerTransportFailure if reason.contains("certificate verify failed") => {
            Some((Code::SSL, format!("SSL handshake failed: {reason}")))
        }
        _ => None,
    }
}

fn is_connection_error(code: Code) -> bool {
    matches!(
        code,
        Code::BrokerTransportFailure | Code::Resolve | Code::NetworkException
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str = "SASL authentication error: invalid credentials";

    #[test]
    fn a_refusal_purges_once_all_brokers_are_down() {
        let r = Refusals::default();
        assert!(!r.error(Code::Authentication, DENIED));
        assert!(r.error(Code::AllBrokersDown, "1/1 brokers are down"));
        assert!(r.error(Code::Authentication, DENIED)); // the next reconnect
        let cause = r.cause(Some(Code::PurgeQueue), "delivery failed").unwrap();
        assert!(cause.to_string().contains(DENIED), "{cause}");
        assert!(r.cause(Some(Code::MessageTimedOut), "x").is_none());
        assert!(r.standing("metadata").unwrap().to_string().contains(DENIED));
    }

    #[test]
    fn a_plain_connection_failure_is_not_a_refusal() {
        let r = Refusals::default();
        r.error(Code::Authentication, DENIED);
        assert!(!r.error(Code::BrokerTransportFailure, "Connection refused"));
        assert!(!r.error(Code::AllBrokersDown, "1/1 brokers are down"));
        assert!(r.cause(Some(Code::PurgeQueue), "x").is_none());
    }

    #[test]
    fn a_tls_alert_from_the_broker_is_a_tls_refusal() {
        let r = Refusals::default();
        r.error(Code::AllBrokersDown, "1/1 brokers are down");
        let alert = "Receive failed: error:0A000412:SSL routines::ssl/tls alert bad certificate";
        assert!(r.error(Code::BrokerTransportFailure, alert));
        match r.cause(Some(Code::PurgeQueue), "x") {
            Some(Error::Kafka { code, .. }) => assert_eq!(code, Code::SSL),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unverifiable_certificate_reported_as_a_transport_failure_is_a_tls_refusal() {
        let r = Refusals::default();
        r.error(Code::AllBrokersDown, "1/1 brokers are down");
        let write = "error:0A000086:SSL routines::certificate verify failed (after 4ms in state SSL_HANDSHAKE)";
        assert!(r.error(Code::BrokerTransportFailure, write));
        match r.cause(Some(Code::PurgeQueue), "x") {
            Some(Error::Kafka { code, message, .. }) => {
                assert_eq!(code, Code::SSL);
                assert!(
                    message.contains(&format!("SSL handshake failed: {write}")),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_delivery_clears_the_refusal() {
        let r = Refusals::default();
        r.error(Code::Authentication, DENIED);
        r.error(Code::AllBrokersDown, "1/1 brokers are down");
        r.delivered();
        assert!(r.cause(Some(Code::PurgeQueue), "x").is_none());
        assert!(r.standing("x").is_none());
        assert!(!r.error(Code::Authentication, DENIED)); // not all down any more
    }
}
