//! The ceiling of kafkify's own stack: the same `rdkafka` crate and the same static
//! librdkafka build, driven from Rust with no Python at all. benches/compare.py runs
//! it next to kafkify's batch API and kcat (librdkafka in C) on the same records.
//!
//!     rust_ceiling BOOTSTRAP TOPIC RECORDS_FILE [name=value ...]
//!
//! RECORDS_FILE holds one record per line, `key<TAB>value` (what kcat -K'\t' -l
//! reads). The name=value pairs are librdkafka properties. Prints one JSON line:
//! {"records": N, "seconds": wall time from the first send to the end of flush,
//! "failed": delivery failures}. A warm-up record goes to TOPIC-warmup first.

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// Counts failed deliveries (a benchmark that loses records measures nothing).
#[derive(Default)]
struct Counting {
    failed: AtomicUsize,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// librdkafka's flush, which (in event mode) waits until the producer's thread has
/// served the last delivery report. Not `Producer::flush`: in rdkafka 0.39 it polls
/// in 100 ms slices and so ends up to 100 ms late (kafkify avoids it the same way).
fn wait_for_deliveries(producer: &ThreadedProducer<Counting>, timeout: Duration) {
    let ms = timeout.as_millis() as i32;
    // SAFETY: the handle is alive; rd_kafka_flush is thread-safe.
    let err = unsafe { rdkafka::bindings::rd_kafka_flush(producer.client().native_ptr(), ms) };
    assert_eq!(
        err,
        rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
        "every record delivered within {timeout:?}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: rust_ceiling BOOTSTRAP TOPIC RECORDS_FILE [name=value ...]");
        std::process::exit(2);
    }
    let (bootstrap, topic, path) = (&args[0], &args[1], &args[2]);
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for pair in &args[3..] {
        let (name, value) = pair.split_once('=').expect("name=value");
        config.set(name, value);
    }
    let file = std::fs::File::open(path).expect("records file");
    let records: Vec<(Vec<u8>, Vec<u8>)> = std::io::BufReader::new(file)
        .split(b'\n')
        .map(|line| {
            let line = line.expect("readable records file");
            let tab = line
                .iter()
                .position(|&b| b == b'\t')
                .expect("key<TAB>value");
            (line[..tab].to_vec(), line[tab + 1..].to_vec())
        })
        .collect();
    let producer: ThreadedProducer<Counting> = config
        .create_with_context(Counting::default())
        .expect("producer");

    // Warm up on another topic: connection and idempotent producer id, as every
    // contender does before its timed part.
    let warmup = format!("{topic}-warmup");
    let (k, v) = &records[0];
    producer
        .send(BaseRecord::to(&warmup).key(k).payload(v))
        .map_err(|(e, _)| e)
        .expect("warm-up send");
    wait_for_deliveries(&producer, Duration::from_secs(30));

    let started = Instant::now();
    for (key, value) in &records {
        let mut record = BaseRecord::to(topic).key(key).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The producer's own thread serves deliveries; wait for room.
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((err, _)) => panic!("send failed: {err}"),
            }
        }
    }
    wait_for_deliveries(&producer, Duration::from_secs(120));
    let seconds = started.elapsed().as_secs_f64();
    let failed = producer.context().failed.load(Ordering::Relaxed);
    println!(
        "{{\"records\": {}, \"seconds\": {seconds}, \"failed\": {failed}}}",
        records.len()
    );
}
