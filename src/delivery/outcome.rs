//! What a delivery report says: where a record landed ([`Delivered`],
//! [`Landed`]) or why it failed ([`Outcome`]), and the waiting for one ([`Wait`],
//! [`Waiter`]).

use std::sync::{Arc, Mutex};

use crate::errors::Error;

/// Where a record landed (or was headed, for a failure).
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Shared: a batch's reports all name the same topic (see [`topic_name`]).
    pub topic: Arc<str>,
    pub at: Landed,
}

/// Where a record landed, without its topic: what a batch keeps per record (it
/// stores its topic once). -1 where unknown.
#[derive(Debug, Clone, Copy)]
pub struct Landed {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key_size: i32,
    pub value_size: i32,
    pub header_size: i32,
}

impl Delivered {
    /// Where a record that never reached the broker was headed.
    pub fn failed(topic: &str, partition: Option<i32>) -> Self {
        Delivered {
            topic: Arc::from(topic),
            at: Landed {
                partition: partition.unwrap_or(-1),
                offset: -1,
                timestamp: -1,
                key_size: -1,
                value_size: -1,
                header_size: -1,
            },
        }
    }
}

pub type Outcome = Result<Delivered, (Error, Delivered)>;

/// Something a blocking call waits on: one record's outcome, or a whole batch's.
/// The waiting thread serves the report queue meanwhile (see `serve`), so it
/// only needs to look: whoever serves a report wakes the waiters.
pub trait Wait: Sync {
    type Output: Send;
    /// The result, if it is ready (taken: a second call returns None).
    fn take(&self) -> Option<Self::Output>;
}

/// A blocking `send` waits on one of these.
#[derive(Default)]
pub struct Waiter {
    slot: Mutex<Option<Outcome>>,
}

impl Waiter {
    pub(super) fn set(&self, outcome: Outcome) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

impl Wait for Waiter {
    type Output = Outcome;

    fn take(&self) -> Option<Outcome> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
