//! The records of one `send_batch` / `send_batch_async` call ([`Batch`]): one
//! slot per record, and the tagged slot address a record carries through
//! librdkafka ([`BatchSlot`]).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};

use super::outcome::{Delivered, Landed, Wait};
use crate::errors::Error;
use crate::metadata::metadata_object;
use crate::observe::OwnLine;

/// The records of one `send_batch` / `send_batch_async` call: their outcomes in
/// input order, complete once the last one has reported.
///
/// Built for 100k+ records, where anything shared between the sending thread and
/// the poll thread per record shows up (a counter both write bounces its cache
/// line between the cores for every record):
/// - one slot per record (48 bytes, in one allocation) takes a success report
///   without a lock; failures (rare) go to a list; the topic is stored once;
/// - a record's opaque pointer is its slot's address ([`BatchSlot`]), so librdkafka
///   carries no allocation of ours, and the records in flight share one reference
///   to the batch (taken by [`Batch::new`], handed back by the last report) rather
///   than one reference count update per record.
pub struct Batch {
    topic: Arc<str>,
    slots: Box<[Slot]>,
    /// Records not yet reported; the one that brings it to 0 completes the batch.
    /// Written by the poll thread for every record: on its own cache line.
    remaining: OwnLine<AtomicUsize>,
    /// Failed records: (index, error).
    failures: Mutex<Vec<(usize, Error)>>,
    /// Whether the result was taken (built once).
    taken: Mutex<bool>,
    /// For `send_batch_async`: the future to resolve at the end, and its loop's waker.
    pub future: Option<(Arc<dyn BatchLoop>, Py<PyAny>)>,
    /// Resolve with the first failure instead of a list with errors in place.
    pub raise_on_error: bool,
}

/// One record of a [`Batch`]: where it landed, once reported. Written once by
/// whichever thread reports the record, read after `remaining` reached 0 (the
/// AcqRel count orders them), so relaxed atomics are enough.
struct Slot {
    /// The batch's own address (the same in every slot): a [`BatchSlot`] yields
    /// both the batch and the record's index.
    batch: *const Batch,
    reported: AtomicBool,
    partition: AtomicI32,
    key_size: AtomicI32,
    value_size: AtomicI32,
    header_size: AtomicI32,
    offset: AtomicI64,
    timestamp: AtomicI64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 48, "the size the docs give");

// SAFETY: `batch` is only an address, dereferenced by `BatchSlot::get` while the
// batch's in-flight reference is held; the rest are atomics.
#[allow(unsafe_code)]
unsafe impl Send for Slot {}
#[allow(unsafe_code)]
unsafe impl Sync for Slot {}

/// A batch whose result may now be built (see [`Batch::result`]); once per batch.
pub struct Complete;

impl Batch {
    pub fn new(
        topic: &str,
        len: usize,
        future: Option<(Arc<dyn BatchLoop>, Py<PyAny>)>,
        raise_on_error: bool,
    ) -> Arc<Self> {
        let batch = Arc::new_cyclic(|this| Batch {
            topic: Arc::from(topic),
            slots: (0..len)
                .map(|_| Slot {
                    batch: this.as_ptr(),
                    reported: AtomicBool::new(false),
                    partition: AtomicI32::new(-1),
                    key_size: AtomicI32::new(-1),
                    value_size: AtomicI32::new(-1),
                    header_size: AtomicI32::new(-1),
                    offset: AtomicI64::new(-1),
                    timestamp: AtomicI64::new(-1),
                })
                .collect(),
            remaining: OwnLine(AtomicUsize::new(len)),
            failures: Mutex::new(Vec::new()),
            taken: Mutex::new(false),
            future,
            raise_on_error,
        });
        if len > 0 {
            // The in-flight records' reference, handed back by `report` for the last one.
            std::mem::forget(batch.clone());
        }
        batch
    }

    /// Where record `index`'s report goes: its slot (see [`BatchSlot`]).
    pub fn slot(&self, index: usize) -> BatchSlot {
        BatchSlot(&self.slots[index] as *const Slot as usize | SLOT_TAG)
    }

    /// Record one outcome. The last one missing completes the batch and gets the
    /// in-flight records' reference to it (to wake an async caller, or drop).
    #[allow(unsafe_code)]
    pub fn report(&self, index: usize, outcome: Result<Landed, Error>) -> Option<Arc<Batch>> {
        // SAFETY: `set` says true once per batch, and only for a batch that had
        // records, whose in-flight reference `new` made and nobody else takes.
        self.set(index, outcome)
            .then(|| unsafe { Arc::from_raw(self as *const Batch) })
    }

    /// A batch of no records (complete from the start).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Record one outcome; true when it was the last one missing.
    fn set(&self, index: usize, outcome: Result<Landed, Error>) -> bool {
        let slot = &self.slots[index];
        if slot.reported.swap(true, Ordering::Relaxed) {
            return false; // reported already (a report and a refusal cannot both come)
        }
        match outcome {
            Ok(d) => {
                slot.partition.store(d.partition, Ordering::Relaxed);
                slot.key_size.store(d.key_size, Ordering::Relaxed);
                slot.value_size.store(d.value_size, Ordering::Relaxed);
                slot.header_size.store(d.header_size, Ordering::Relaxed);
                slot.offset.store(d.offset, Ordering::Relaxed);
                slot.timestamp.store(d.timestamp, Ordering::Relaxed);
            }
            Err(err) => lock(&self.failures).push((index, err)),
        }
        self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// The batch's result as Python sees it: a list of RecordMetadata (or the
    /// exception for that record), or with `raise_on_error` the first failure in
    /// input order. Call once, with the [`Complete`] that `take` gave.
    pub fn result(&self, py: Python<'_>, _complete: Complete) -> (bool, Py<PyAny>) {
        let mut failures = std::mem::take(&mut *lock(&self.failures));
        failures.sort_unstable_by_key(|(index, _)| *index);
        let mut failures = failures.into_iter().peekable();
        if self.raise_on_error {
            if let Some((_, err)) = failures.next() {
                return (false, err.to_py(py).into_value(py).into_any());
            }
        }
        let _paused = (self.slots.len() >= GC_PAUSE_AT).then(|| GcPause::new(py));
        let mut values = Vec::with_capacity(self.slots.len());
        for (index, slot) in self.slots.iter().enumerate() {
            if failures.peek().is_some_and(|(i, _)| *i == index) {
                if let Some((_, err)) = failures.next() {
                    values.push(err.to_py(py).into_value(py).into_any());
                    continue;
                }
            }
            let at = Landed {
                partition: slot.partition.load(Ordering::Relaxed),
                offset: slot.offset.load(Ordering::Relaxed),
                timestamp: slot.timestamp.load(Ordering::Relaxed),
                key_size: slot.key_size.load(Ordering::Relaxed),
                value_size: slot.value_size.load(Ordering::Relaxed),
                header_size: slot.header_size.load(Ordering::Relaxed),
            };
            let topic = self.topic.clone();
            values.push(metadata_object(py, Delivered { topic, at }));
        }
        match PyList::new(py, values) {
            Ok(list) => (true, list.into_any().unbind()),
            Err(e) => (false, e.into_value(py).into_any()),
        }
    }
}

/// What a `send_batch_async` batch knows of its event loop: aio.rs's `LoopWaker`
/// implements it. A trait, so that this file and the asyncio glue do not import
/// each other (the loop sees a batch only as [`Finished`]).
pub trait BatchLoop: Send + Sync {
    /// Queue the completed `batch` to be settled on the loop's thread (called
    /// without the GIL, once per batch).
    fn batch_done(&self, batch: Arc<dyn Finished>);
}

/// A completed `send_batch_async` batch, as its loop settles it (`aio::settle_finished`).
pub trait Finished: Send + Sync {
    /// The future to resolve and what with, once complete (and only once; None
    /// for a batch without a future).
    fn future_result(&self, py: Python<'_>) -> Option<(&Py<PyAny>, bool, Py<PyAny>)>;
}

impl Finished for Batch {
    fn future_result(&self, py: Python<'_>) -> Option<(&Py<PyAny>, bool, Py<PyAny>)> {
        // The future first: a blocking batch's result is its caller's to take.
        let (_, future) = self.future.as_ref()?;
        let complete = self.take()?;
        let (ok, value) = self.result(py, complete);
        Some((future, ok, value))
    }
}

impl Wait for Batch {
    type Output = Complete;

    fn take(&self) -> Option<Complete> {
        let mut taken = lock(&self.taken);
        if self.remaining.load(Ordering::Acquire) != 0 || *taken {
            return None;
        }
        *taken = true;
        Some(Complete)
    }
}

/// A mutex's guard, also after a panic elsewhere (the data stays consistent: every
/// critical section here is a single push, take or flag).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Record `i` of a [`Batch`], as it travels: the tagged address of the batch's
/// slot `i`. It owns nothing: the batch's in-flight reference keeps the batch
/// alive until its last record has reported, so handing one over touches no
/// shared counter.
#[derive(Clone, Copy)]
pub struct BatchSlot(pub(super) usize);

#[allow(unsafe_code)]
impl BatchSlot {
    /// The batch and the record's index.
    ///
    /// # Safety
    /// The record has not reported yet (so the in-flight reference is held).
    pub(super) unsafe fn get<'a>(self) -> (&'a Batch, usize) {
        let slot = (self.0 & !SLOT_TAG) as *const Slot;
        // SAFETY: the caller guarantees the batch (and its slots) are alive.
        let batch = unsafe { &*(*slot).batch };
        let offset = slot as usize - batch.slots.as_ptr() as usize;
        (batch, offset / std::mem::size_of::<Slot>())
    }
}

/// Set in an opaque pointer that points at a batch slot (slots and boxes are
/// 8-byte aligned, so the bit is free).
pub(super) const SLOT_TAG: usize = 1;

/// Batches at least this large build their results with the cyclic GC paused.
const GC_PAUSE_AT: usize = 10_000;

/// Pauses Python's cyclic garbage collector while a batch's RecordMetadata objects
/// are made: every 700 new objects trigger a collection, and the survivors pile
/// into full collections of the whole heap (measured: ~15 % of a 200k-record
/// `send_batch`). The objects hold no references, so they cannot form cycles.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Self {
        let gc = py.import("gc").ok().filter(|gc| {
            gc.call_method0("isenabled")
                .and_then(|on| on.is_truthy())
                .unwrap_or(false)
                && gc.call_method0("disable").is_ok()
        });
        GcPause { gc }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0("enable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landed(partition: i32, offset: i64) -> Result<Landed, Error> {
        Ok(Landed {
            partition,
            offset,
            ..Delivered::failed("orders", None).at
        })
    }

    /// An empty batch is complete from the start and holds no in-flight reference.
    #[test]
    fn an_empty_batch_is_complete_at_once() {
        let batch = Batch::new("orders", 0, None, false);
        assert_eq!(Arc::strong_count(&batch), 1);
        assert!(batch.take().is_some());
    }

    /// Outcomes land in their slots; the batch completes on the last one, once,
    /// and a second report for the same record changes nothing.
    #[test]
    fn a_batch_completes_once_with_every_outcome_in_place() {
        let batch = Batch::new("orders", 3, None, false);
        assert!(batch.report(2, landed(1, 7)).is_none());
        assert!(batch.take().is_none(), "not complete yet");
        let failure = Error::Timeout("gone".into());
        assert!(batch.report(0, Err(failure)).is_none());
        assert!(batch.report(2, landed(9, 9)).is_none(), "reported already");
        let in_flight = batch.report(1, landed(0, 3)).expect("the last report");
        assert!(Arc::ptr_eq(&in_flight, &batch));
        drop(in_flight);
        assert_eq!(
            Arc::strong_count(&batch),
            1,
            "the in-flight reference came back"
        );
        assert!(batch.take().is_some());
        assert!(batch.take().is_none(), "the result is taken once");
        let slot = &batch.slots[2];
        assert_eq!(slot.partition.load(Ordering::Relaxed), 1);
        assert_eq!(slot.offset.load(Ordering::Relaxed), 7);
        assert_eq!(lock(&batch.failures).len(), 1);
        assert_eq!(lock(&batch.failures)[0].0, 0);
    }
}
