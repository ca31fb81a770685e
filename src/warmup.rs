//! An idempotent producer's id, asked for as soon as a broker is up, instead of
//! after librdkafka's 500 ms retry timer (issue 12, target h).
//!
//! librdkafka asks for the producer id (InitProducerId) when a metadata answer
//! arrives, or else when its 500 ms timer fires (`rd_kafka_idemp_pid_fsm`, called
//! from `rd_kafka_parse_Metadata`). Its first metadata answer comes from the
//! bootstrap connection, which it drops right after (librdkafka ≥ 2.10 decommissions
//! bootstrap brokers once it has learnt the real ones), so at that moment no broker
//! is up to ask, and the id waited for the timer: a new producer's first record took
//! ~505 ms on loopback, one run in two (confluent-kafka's too). A metadata request
//! answered by a real broker (one with a node id) runs that step at once, with that
//! broker up. So at construction a `kafkify-warmup` thread asks for the broker list
//! until a real broker answers (a few requests at most), and `start()` does the
//! same before it returns.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Properties;
use crate::delivery::RdProducer;
use crate::rd;
use crate::timeout::Deadline;

/// The most the construction-time thread spends asking (its `ATTEMPTS` take
/// ~3 s when no broker answers); past that, librdkafka's own 500 ms timer asks.
const WARMUP_FOR: Duration = Duration::from_secs(10);
/// Each request's wait: the first short, each later one twice as long up to
/// `MOST_WAIT`, at most `ATTEMPTS` of them. A request that times out here stays
/// queued at the broker, so a fixed short wait would pile requests up on a slow
/// broker (one with a 500 ms round trip got ten a second, ahead of the records);
/// `close()`, which joins the thread, waits at most `MOST_WAIT`.
const FIRST_WAIT: Duration = Duration::from_millis(100);
const MOST_WAIT: Duration = Duration::from_millis(800);
const ATTEMPTS: usize = 6;

/// Producers that ask for a producer id by themselves: idempotent and not
/// transactional (a transactional one asks in `init_transactions`).
pub fn wanted(properties: &Properties) -> bool {
    properties.get("enable.idempotence") == Some("true")
        && properties.get("transactional.id").is_none()
}

/// Ask for the broker list until a real broker answers (its answer has made
/// librdkafka send the producer-id request), then once more: on one connection
/// Kafka answers in order, so that answer comes after the producer id's (exact on
/// a one-broker cluster; on more, the second request may go to another broker).
/// `producer` gives the handle for each request, None once the producer is closed.
/// True when a real broker answered before `deadline` (and within `ATTEMPTS`).
pub fn ask_for_producer_id(
    producer: impl Fn() -> Option<Arc<RdProducer>>,
    deadline: Deadline,
) -> bool {
    let answered = |wait| match producer() {
        Some(p) => rd::broker_list_answered_by(&p, wait),
        None => None,
    };
    let mut wait = FIRST_WAIT;
    for _ in 0..ATTEMPTS {
        if deadline.passed() {
            return false;
        }
        match answered(deadline.window(wait)) {
            Some(node) if node >= 0 => {
                answered(deadline.window(wait));
                return true;
            }
            None if producer().is_none() => return false,
            _ => {}
        }
        wait = (wait * 2).min(MOST_WAIT);
    }
    false
}

/// Start the construction-time thread (see the module docs), which gets the handle
/// for each request from `producer` (None once closed); None when the producer does
/// not need it, or no thread could be started (librdkafka's timer still asks).
pub fn spawn(
    properties: &Properties,
    producer: impl Fn() -> Option<Arc<RdProducer>> + Send + 'static,
) -> Option<JoinHandle<()>> {
    if !wanted(properties) {
        return None;
    }
    std::thread::Builder::new()
        .name("kafkify-warmup".into())
        .spawn(move || {
            ask_for_producer_id(producer, Deadline::after(Some(WARMUP_FOR)));
        })
        .ok()
}
