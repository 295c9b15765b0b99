//! The ingest bench's input: an endless stream of observations in batches.

use std::collections::VecDeque;

use ociledger::model::Observation;

use crate::BATCH;
use crate::base::base;

/// Replica after replica (from replica 1000 on, so no name meets a data set's),
/// each replica the whole base in observed-time order, cut into batches of [`BATCH`].
#[derive(Debug)]
pub struct Stream {
    replica: u32,
    buf: VecDeque<Observation>,
}

impl Stream {
    /// A stream at its start (every stream yields the same batches).
    #[must_use]
    pub fn new() -> Self {
        Self {
            replica: 1000,
            buf: VecDeque::new(),
        }
    }

    /// The next [`BATCH`] observations.
    pub fn next_batch(&mut self) -> Vec<Observation> {
        let base = base();
        while self.buf.len() < BATCH {
            let (_, obs) = base.materialize(&base.whole(self.replica));
            self.replica += 1;
            self.buf.extend(obs.into_iter().map(|(_, o)| o));
        }
        self.buf.drain(..BATCH).collect()
    }
}

impl Default for Stream {
    fn default() -> Self {
        Self::new()
    }
}
