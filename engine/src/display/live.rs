//! [`LiveDisplay`]: an output that later updates replace in place, and the throttle
//! that keeps live outputs from flooding the front-end.

use super::bundle::Render;
use super::output::Output;
use super::wire::Kind;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A display with an id: shown once, then replaced by each [`LiveDisplay::update`].
///
/// Under a front-end the first message is a `display` with the id and each update an
/// `update` with the same id (Jupyter replaces the output). Without one, the initial
/// value and each update print their text on a new line.
pub struct LiveDisplay {
    id: String,
    out: Output,
}

impl LiveDisplay {
    /// Shows `initial` on stdout (see [`Output::stdout`]) under a new display id.
    pub fn new(initial: &(impl Render + ?Sized)) -> LiveDisplay {
        LiveDisplay::with_output(initial, Output::stdout())
    }

    /// Shows `initial` on a given output (a buffer in tests).
    pub fn with_output(initial: &(impl Render + ?Sized), out: Output) -> LiveDisplay {
        let mut live = LiveDisplay {
            id: new_display_id(),
            out,
        };
        // Display errors are ignored, as in `show`: a closed stdout must not stop training.
        let _ = live.out.send(Kind::Display, Some(&live.id), initial);
        live
    }

    /// The display id (unique across processes and cells).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces the shown value.
    pub fn update(&mut self, value: &(impl Render + ?Sized)) {
        let _ = self.out.send(Kind::Update, Some(&self.id), value);
    }
}

/// A display id unique across processes, cells and calls: the process id, the time in
/// nanoseconds, and a hash with fresh random keys. `RandomState::new` gives new keys on
/// every call (std seeds them from the OS and steps them per call), so two ids made in
/// the same nanosecond still differ, with no counter in a static of this crate (each
/// notebook cell may link its own copy of the crate, with its own statics).
pub fn new_display_id() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let salt = RandomState::new().hash_one(nanos);
    format!("born-{:x}-{nanos:x}-{salt:016x}", std::process::id())
}

/// Decides when a live output redraws: after `every` time since the last draw, or
/// after `every_points` new points if set, whichever comes first, and only when
/// something changed.
#[derive(Clone, Debug)]
pub(crate) struct Throttle {
    pub(crate) every: Duration,
    pub(crate) every_points: Option<usize>,
    last: Instant,
    pending: usize,
}

impl Throttle {
    pub(crate) fn new(every: Duration, every_points: Option<usize>) -> Throttle {
        Throttle {
            every,
            every_points,
            last: Instant::now(),
            pending: 0,
        }
    }

    /// Records `n` changes; true when it is time to draw (the caller then calls [`Throttle::drawn`]).
    pub(crate) fn tick(&mut self, n: usize) -> bool {
        self.pending += n;
        self.pending > 0 && (self.last.elapsed() >= self.every || self.every_points.is_some_and(|p| self.pending >= p))
    }

    /// True when changes have not been drawn yet.
    pub(crate) fn dirty(&self) -> bool {
        self.pending > 0
    }

    /// Records a draw.
    pub(crate) fn drawn(&mut self) {
        self.pending = 0;
        self.last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_even_in_a_tight_loop() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_display_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.starts_with("born-")));
    }

    #[test]
    fn throttle_by_points_and_time() {
        let mut t = Throttle::new(Duration::from_secs(3600), Some(3));
        assert!(!t.tick(1) && !t.tick(1) && t.tick(1));
        t.drawn();
        assert!(!t.dirty() && !t.tick(0));
        let mut t = Throttle::new(Duration::ZERO, None);
        assert!(!t.tick(0) && t.tick(1));
    }
}
