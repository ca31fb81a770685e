//! Every raw FFI call outside the serializer, behind safe functions: librdkafka's
//! C API (`rdkafka::bindings`) where rdkafka's safe API falls short, and the few
//! libc and CPython calls the rest of the crate needs. With `serialize/` (and the
//! opaque-pointer encoding in `delivery/`) the only place `unsafe` is allowed
//! (`lib.rs` denies it elsewhere); every `unsafe` says why it is sound.
//!
//! A leaf: it imports nothing of ours, so any module may use it without making a
//! circle. That is why it is generic over the producer's context instead of naming
//! `delivery::RdProducer`.

use std::ffi::{c_char, c_void, CStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use rdkafka::bindings as rd;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};
use rdkafka::mocking::MockCluster as RdMockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer as _, ProducerContext};
use rdkafka::types::{RDKafkaErrorCode as Code, RDKafkaRespErr};
use rdkafka::util::IntoOpaque;
use rdkafka::TopicPartitionList;

// ---------------------------------------------------------------- librdkafka

/// One record's fields as `rd_kafka_producev` takes them (see `queue::try_send`).
pub struct Record<'a> {
    pub topic: &'a CStr,
    /// -1: librdkafka's partitioner picks.
    pub partition: i32,
    pub value: Option<&'a [u8]>,
    pub key: Option<&'a [u8]>,
    /// 0: now.
    pub timestamp_ms: i64,
}

/// A record librdkafka refused: its error, and the headers and opaque handed back.
pub type Refused<O> = (RDKafkaRespErr, Option<OwnedHeaders>, O);

/// Queue one record with `rd_kafka_producev` (rdkafka's `BaseRecord` path costs an
/// allocation and a copy more). librdkafka copies key and value; on success it
/// owns `headers` and `opaque`, on failure both come back.
#[inline]
pub fn produce<C: ProducerContext>(
    producer: &BaseProducer<C>,
    r: &Record<'_>,
    headers: Option<OwnedHeaders>,
    opaque: C::DeliveryOpaque,
) -> Result<(), Refused<C::DeliveryOpaque>> {
    use rdkafka::bindings::rd_kafka_vtype_t::*;
    let bytes = |b: Option<&[u8]>| {
        b.map_or((std::ptr::null_mut(), 0), |b| {
            (b.as_ptr() as *mut c_void, b.len())
        })
    };
    let (value_ptr, value_len) = bytes(r.value);
    let (key_ptr, key_len) = bytes(r.key);
    let opaque = opaque.into_ptr();
    // `BorrowedHeaders` is rdkafka's zero-sized view whose address is the native
    // headers pointer (`OwnedHeaders::ptr` is crate-private).
    let headers_ptr = headers.as_ref().map_or(std::ptr::null_mut(), |h| {
        h.as_borrowed() as *const _ as *mut rd::rd_kafka_headers_t
    });
    // SAFETY: every pointer is valid for the call (librdkafka copies key and value,
    // F_COPY); on success librdkafka owns the headers and the opaque.
    let err = unsafe {
        rd::rd_kafka_producev(
            producer.client().native_ptr(),
            RD_KAFKA_VTYPE_TOPIC,
            r.topic.as_ptr(),
            RD_KAFKA_VTYPE_PARTITION,
            r.partition,
            RD_KAFKA_VTYPE_MSGFLAGS,
            rd::RD_KAFKA_MSG_F_COPY,
            RD_KAFKA_VTYPE_VALUE,
            value_ptr,
            value_len,
            RD_KAFKA_VTYPE_KEY,
            key_ptr,
            key_len,
            RD_KAFKA_VTYPE_OPAQUE,
            opaque,
            RD_KAFKA_VTYPE_TIMESTAMP,
            r.timestamp_ms,
            RD_KAFKA_VTYPE_HEADERS,
            headers_ptr,
            RD_KAFKA_VTYPE_END,
        )
    };
    if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        std::mem::forget(headers); // librdkafka owns them now
        return Ok(());
    }
    // SAFETY: librdkafka refused the record, so the opaque is still ours.
    let opaque = unsafe { C::DeliveryOpaque::from_ptr(opaque) };
    Err((err, headers, opaque))
}

/// Wake librdkafka's broker threads with linger.ms treated as 0, and wait up to
/// `slice` for the queue to drain; true when it did. Used by the expedite thread
/// (awaited and blocking sends cost one round trip, not linger.ms + a round trip;
/// concurrent senders still share batches), and by flush/close.
///
/// Not `BaseProducer::flush`: it calls `rd_kafka_flush(rk, 0)` and then polls the
/// queue for up to 100 ms whether or not anything is left, so every flush would
/// end up to 100 ms late. librdkafka's own flush, in event mode, waits on a
/// condition variable until the last report has been served (see `serve`).
pub fn flush_slice<C: ProducerContext>(producer: &BaseProducer<C>, slice: Duration) -> bool {
    let ms = slice.as_millis().clamp(0, i32::MAX as u128) as i32;
    // SAFETY: the handle is alive (we hold the producer); rd_kafka_flush is thread-safe.
    let err = unsafe { rd::rd_kafka_flush(producer.client().native_ptr(), ms) };
    err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
}

/// Ask any broker for the broker list only (no topics), waiting up to `wait`.
/// Returns the node id of the broker that answered (-1: a bootstrap connection,
/// which has no id yet), or None when none answered. `rust-rdkafka`'s
/// `fetch_metadata(None, ..)` would ask for every topic instead.
pub fn broker_list_answered_by<C: ProducerContext>(
    producer: &BaseProducer<C>,
    wait: Duration,
) -> Option<i32> {
    let ms = wait.as_millis().clamp(0, i32::MAX as u128) as i32;
    let mut md: *const rd::rd_kafka_metadata_t = std::ptr::null();
    // SAFETY: the handle is alive (we hold the producer); all_topics=0 and no topic
    // handle ask for brokers only; `md` is set only on success, and freed below.
    let err = unsafe {
        rd::rd_kafka_metadata(
            producer.client().native_ptr(),
            0,
            std::ptr::null_mut(),
            &mut md,
            ms,
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || md.is_null() {
        return None;
    }
    // SAFETY: `md` is the metadata librdkafka just returned; destroyed once, here.
    unsafe {
        let origin = (*md).orig_broker_id;
        rd::rd_kafka_metadata_destroy(md);
        Some(origin)
    }
}

/// librdkafka's properties with their default values, from a fresh configuration.
pub fn conf_defaults() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    // SAFETY: conf_dump returns 2*n C strings (name, value) owned by us until
    // conf_dump_free; a fresh conf lists every property that has a default.
    unsafe {
        let conf = rd::rd_kafka_conf_new();
        let mut count = 0usize;
        let arr = rd::rd_kafka_conf_dump(conf, &mut count);
        for i in (0..count).step_by(2) {
            let text = |p: *const c_char| CStr::from_ptr(p).to_string_lossy().into_owned();
            pairs.push((text(*arr.add(i)), text(*arr.add(i + 1))));
        }
        rd::rd_kafka_conf_dump_free(arr, count);
        rd::rd_kafka_conf_destroy(conf);
    }
    pairs
}

/// Every librdkafka error code as `(code, name, description)`, e.g.
/// `(-192, "_MSG_TIMED_OUT", "Local: Message timed out")`, in librdkafka's order;
/// entries without a name (gaps in the code space) are left out. The one walk of
/// the table: `cluster::librdkafka_error_codes` and `testing`'s error names.
pub fn error_descriptions() -> Vec<(i32, String, String)> {
    let mut descs: *const rd::rd_kafka_err_desc = std::ptr::null();
    let mut count = 0usize;
    // SAFETY: librdkafka hands out a pointer to its static table and its length.
    unsafe { rd::rd_kafka_get_err_descs(&mut descs, &mut count) };
    let text = |p: *const c_char| {
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: non-null entries are static NUL-terminated strings.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    (0..count)
        // SAFETY: index within the table's length.
        .map(|i| unsafe { &*descs.add(i) })
        .filter(|d| !d.name.is_null())
        .map(|d| (d.code as i32, text(d.name), text(d.desc)))
        .collect()
}

/// How long a reported message spent from `produce` to its report, in µs (-1 unknown).
pub fn message_latency(msg: &BorrowedMessage<'_>) -> i64 {
    // SAFETY: the message is alive for this call; the function only reads it.
    unsafe { rd::rd_kafka_message_latency(msg.ptr()) }
}

/// A producer's librdkafka handle, for the calls made from librdkafka's own
/// callbacks (`observe`): set once the producer exists; null until then.
#[derive(Default)]
pub struct Handle(AtomicPtr<rd::rd_kafka_t>);

impl Handle {
    /// Give it the producer's handle (once created). The handle must outlive
    /// every later call: the observer lives in the producer's context, and its
    /// calls come from librdkafka's callbacks or from senders holding the producer.
    pub fn attach<C: ProducerContext>(&self, producer: &BaseProducer<C>) {
        self.0
            .store(producer.client().native_ptr(), Ordering::Release);
    }

    /// The fatal error the client hit, if any: its code and librdkafka's reason.
    pub fn fatal_error(&self) -> Option<(Code, String)> {
        let handle = self.0.load(Ordering::Acquire);
        if handle.is_null() {
            return None;
        }
        let mut reason = [0 as c_char; 512];
        // SAFETY: the handle is alive (see `attach`); rd_kafka_fatal_error is
        // thread-safe and NUL-terminates what it writes into `reason`.
        let code = unsafe { rd::rd_kafka_fatal_error(handle, reason.as_mut_ptr(), reason.len()) };
        if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return None;
        }
        // SAFETY: NUL-terminated by librdkafka (the buffer starts zeroed anyway).
        let reason = unsafe { CStr::from_ptr(reason.as_ptr()) };
        Some((code.into(), reason.to_string_lossy().into_owned()))
    }

    /// Fail the records queued in librdkafka (none of them sent), without
    /// blocking: their reports follow on the report queue.
    pub fn purge_queued(&self) {
        let handle = self.0.load(Ordering::Acquire);
        if handle.is_null() {
            return;
        }
        let flags = rd::RD_KAFKA_PURGE_F_QUEUE | rd::RD_KAFKA_PURGE_F_NON_BLOCKING;
        // SAFETY: the handle is alive (see `attach`); rd_kafka_purge is
        // thread-safe and, non-blocking, only moves queued messages to the report
        // queue.
        unsafe { rd::rd_kafka_purge(handle, flags) };
    }
}

/// Told when a producer's report queue goes from empty to non-empty (`serve`).
pub trait QueueEvents: Send + Sync + 'static {
    /// Called by librdkafka, from the thread that enqueued, under the queue's
    /// lock: only wake whoever serves.
    fn queue_event(&self);
}

/// The hook [`watch_queue`] set up; [`unwatch_queue`] takes it down.
pub struct QueueWatch(*const c_void);

// SAFETY: only an address (of an `Arc<T: QueueEvents>`, which is Send + Sync),
// dereferenced by librdkafka's callback and released once by `unwatch_queue`.
unsafe impl Send for QueueWatch {}
unsafe impl Sync for QueueWatch {}

/// From now on librdkafka calls `target.queue_event()` when `producer`'s main
/// queue gets something to serve. [`unwatch_queue`] before the producer goes.
pub fn watch_queue<C: ProducerContext, T: QueueEvents>(
    producer: &BaseProducer<C>,
    target: Arc<T>,
) -> QueueWatch {
    // The callback's reference, taken back by `unwatch_queue`.
    let opaque = Arc::into_raw(target) as *mut c_void;
    with_queue(producer, |queue| {
        // SAFETY: a live queue handle; `opaque` stays valid until `unwatch_queue`.
        unsafe { rd::rd_kafka_queue_cb_event_enable(queue, Some(on_queue_event::<T>), opaque) }
    });
    QueueWatch(opaque)
}

/// Stop librdkafka's callbacks (once, before the producer goes).
pub fn unwatch_queue<C: ProducerContext, T: QueueEvents>(
    producer: &BaseProducer<C>,
    watch: QueueWatch,
) {
    with_queue(producer, |queue| {
        // SAFETY: a live queue handle. librdkafka calls the callback under the
        // queue's lock, so once this returns no call is running or to come.
        unsafe { rd::rd_kafka_queue_cb_event_enable(queue, None, std::ptr::null_mut()) }
    });
    // SAFETY: the reference `watch_queue` leaked for the callback (an Arc<T>: the
    // caller names the same T), no longer used.
    drop(unsafe { Arc::from_raw(watch.0 as *const T) });
}

/// Call `serve_one` while `producer`'s main queue holds events (reports, logs,
/// errors); true if it held any. One queue handle for the whole drain.
pub fn while_queued<C: ProducerContext>(
    producer: &BaseProducer<C>,
    mut serve_one: impl FnMut(),
) -> bool {
    with_queue(producer, |queue| {
        let mut served = false;
        // SAFETY: a live queue handle.
        while unsafe { rd::rd_kafka_queue_length(queue) } > 0 {
            serve_one();
            served = true;
        }
        served
    })
}

unsafe extern "C" fn on_queue_event<T: QueueEvents>(_rk: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the reference `watch_queue` leaked, valid until
    // `unwatch_queue` (which cannot complete while this runs: both hold the
    // queue's lock).
    let target = unsafe { &*(opaque as *const T) };
    target.queue_event();
}

/// Run `f` with a handle on the producer's main queue (where its reports go).
fn with_queue<C: ProducerContext, R>(
    producer: &BaseProducer<C>,
    f: impl FnOnce(*mut rd::rd_kafka_queue_t) -> R,
) -> R {
    // SAFETY: the producer (hence its handle) is alive for the call; the queue
    // handle is ours until destroyed below.
    unsafe {
        let queue = rd::rd_kafka_queue_get_main(producer.client().native_ptr());
        let result = f(queue);
        rd::rd_kafka_queue_destroy(queue);
        result
    }
}

/// An `rd_kafka_error_t` from a call the rdkafka crate does not wrap, read out.
pub struct RawError {
    pub code: Code,
    pub text: String,
    pub fatal: bool,
    pub retriable: bool,
    pub txn_requires_abort: bool,
}

/// Read `ptr` (null: no error) and destroy it.
///
/// # Safety
/// `ptr` is null or an error object we own.
unsafe fn take_error(ptr: *mut rd::rd_kafka_error_t) -> Option<RawError> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: a live error object (the caller's contract), destroyed last.
    unsafe {
        let out = RawError {
            code: rd::rd_kafka_error_code(ptr).into(),
            text: CStr::from_ptr(rd::rd_kafka_error_string(ptr))
                .to_string_lossy()
                .into_owned(),
            fatal: rd::rd_kafka_error_is_fatal(ptr) != 0,
            retriable: rd::rd_kafka_error_is_retriable(ptr) != 0,
            txn_requires_abort: rd::rd_kafka_error_txn_requires_abort(ptr) != 0,
        };
        rd::rd_kafka_error_destroy(ptr);
        Some(out)
    }
}

/// Consumer group metadata, for `send_offsets_to_transaction`; destroyed on drop.
pub struct GroupMetadata(*mut rd::rd_kafka_consumer_group_metadata_t);

// SAFETY: owned by this value alone; librdkafka only reads it once made, and
// destroys it in Drop (run once).
unsafe impl Send for GroupMetadata {}
unsafe impl Sync for GroupMetadata {}

impl GroupMetadata {
    /// The metadata of a group id.
    pub fn new(group_id: &CStr) -> Self {
        // SAFETY: a valid C string; the result is ours.
        GroupMetadata(unsafe { rd::rd_kafka_consumer_group_metadata_new(group_id.as_ptr()) })
    }

    /// The serialized form librdkafka writes (what confluent-kafka's
    /// `consumer_group_metadata()` holds).
    pub fn read(data: &[u8]) -> Result<Self, RawError> {
        let mut out = std::ptr::null_mut();
        // SAFETY: `data` outlives the call; on success `out` is ours.
        let err = unsafe {
            rd::rd_kafka_consumer_group_metadata_read(&mut out, data.as_ptr().cast(), data.len())
        };
        // SAFETY: err is null or ours.
        match unsafe { take_error(err) } {
            Some(e) => Err(e),
            None => Ok(GroupMetadata(out)),
        }
    }
}

impl Drop for GroupMetadata {
    fn drop(&mut self) {
        // SAFETY: made by `new` or `read`, destroyed once.
        unsafe { rd::rd_kafka_consumer_group_metadata_destroy(self.0) };
    }
}

/// Set the leader epoch of `list`'s entry for (`topic`, `partition`), if it has one
/// (rdkafka's `TopicPartitionList` has no setter for it).
pub fn set_leader_epoch(list: &mut TopicPartitionList, topic: &CStr, partition: i32, epoch: i32) {
    // SAFETY: the list is ours and alive; find returns its element (or null,
    // checked); setting its leader epoch writes only it.
    unsafe {
        let raw = rd::rd_kafka_topic_partition_list_find(list.ptr(), topic.as_ptr(), partition);
        if !raw.is_null() {
            rd::rd_kafka_topic_partition_set_leader_epoch(raw, epoch);
        }
    }
}

/// Commit a consumer's `offsets` as part of the producer's current transaction,
/// waiting up to `ms` (-1: no limit). Blocks: call without the GIL.
pub fn send_offsets_to_transaction<C: ProducerContext>(
    producer: &BaseProducer<C>,
    offsets: &TopicPartitionList,
    group: &GroupMetadata,
    ms: i32,
) -> Result<(), RawError> {
    // SAFETY: the handle, list and metadata are alive for the whole call.
    let err = unsafe {
        rd::rd_kafka_send_offsets_to_transaction(
            producer.client().native_ptr(),
            offsets.ptr(),
            group.0,
            ms,
        )
    };
    // SAFETY: err is null or ours.
    match unsafe { take_error(err) } {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The rdkafka mock cluster, made shareable between threads (`testing`).
pub struct SharedMockCluster(pub RdMockCluster<'static, DefaultProducerContext>);

// SAFETY: `MockCluster` is !Send only because it holds a raw `rd_kafka_mock_cluster_t`
// pointer. Every librdkafka call it makes is thread-safe: the `rd_kafka_mock_*`
// setters either take the cluster's lock or post an operation to the cluster's own
// thread and wait for the reply, `rd_kafka_mock_cluster_bootstraps` reads a string
// fixed at creation, and `rd_kafka_mock_cluster_destroy` (in Drop, run once) joins
// that thread. Python threads (a pytest fixture, an asyncio executor) may therefore
// share one cluster.
unsafe impl Send for SharedMockCluster {}
unsafe impl Sync for SharedMockCluster {}

// ------------------------------------------------------- libc and CPython

/// Run `child` in the child after every `fork()`. It must be async-signal-safe.
pub fn after_fork_in_child(child: extern "C" fn()) {
    // SAFETY: registers a handler; the caller's handler is async-signal-safe.
    unsafe {
        libc::pthread_atfork(None, None, Some(child));
    }
}

/// A non-blocking eventfd (`aio`'s loop waker).
pub struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: plain eventfd creation; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Make it readable. A full counter (EAGAIN) still leaves it readable, which
    /// is all we need.
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our own eventfd.
        unsafe {
            libc::write(
                self.0.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }

    /// Make it unreadable again (until the next `notify`).
    pub fn clear(&self) {
        let mut counter: u64 = 0;
        // SAFETY: reading 8 bytes from our own non-blocking eventfd.
        unsafe {
            libc::read(
                self.0.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Take `obj` out of the cyclic garbage collector's lists (`metadata_object`:
/// an object that holds no Python references can never be part of a cycle).
pub fn gc_untrack(obj: &Bound<'_, PyAny>) {
    // SAFETY: a live object (of a GC type: every pyo3 class is); untracking twice
    // (pyo3's dealloc does it again) is allowed.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
}

/// Trip Python's "Ctrl+C was pressed" flag, as the signal handler does.
pub fn set_interrupt() {
    // SAFETY: PyErr_SetInterrupt only trips Python's signal flag.
    unsafe { pyo3::ffi::PyErr_SetInterrupt() };
}
