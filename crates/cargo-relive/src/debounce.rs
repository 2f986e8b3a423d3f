//! Coalesces an editor's burst of file events into one rebuild.
//!
//! A pure state machine over a caller-supplied clock, so it is tested without sleeping. A burst
//! ends when no event came for [`Debouncer::quiet`], or at the latest [`Debouncer::max_wait`] after
//! its first event (so a file written continuously still triggers builds).

use std::time::{Duration, Instant};

/// What a change requires. `Host` includes rebuilding the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only the worker's own sources changed: rebuild and hot-reload it (replaying rustc).
    Worker,
    /// The worker's manifest or build script, or a crate only the worker uses, changed: rebuild
    /// it through cargo and hot-reload it.
    WorkerDeps,
    /// A crate of the host changed (the interface, the host itself): rebuild and restart the host.
    Host,
}

/// A burst in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Burst {
    first: Instant,
    last: Instant,
    change: Change,
}

/// The debouncer.
#[derive(Debug, Clone)]
pub struct Debouncer {
    quiet: Duration,
    max_wait: Duration,
    burst: Option<Burst>,
}

/// A finished burst: what to do, and when its first event came (the start of edit-to-effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// The strongest change seen in the burst.
    pub change: Change,
    /// The first event of the burst.
    pub first: Instant,
}

impl Debouncer {
    /// A debouncer that waits for `quiet` without events, and never longer than `max_wait`.
    pub fn new(quiet: Duration, max_wait: Duration) -> Self {
        Debouncer {
            quiet,
            max_wait,
            burst: None,
        }
    }

    /// The quiet period.
    pub fn quiet(&self) -> Duration {
        self.quiet
    }

    /// The longest a burst is held back.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Records an event at `now`.
    pub fn event(&mut self, now: Instant, change: Change) {
        self.burst = Some(match self.burst {
            None => Burst {
                first: now,
                last: now,
                change,
            },
            Some(b) => Burst {
                first: b.first,
                last: now.max(b.last),
                change: b.change.max(change),
            },
        });
    }

    /// When [`Debouncer::poll`] should be called next, if a burst is in progress.
    pub fn deadline(&self) -> Option<Instant> {
        self.burst
            .map(|b| (b.last + self.quiet).min(b.first + self.max_wait))
    }

    /// The finished burst at `now`, if any; it is then forgotten.
    pub fn poll(&mut self, now: Instant) -> Option<Fired> {
        let deadline = self.deadline()?;
        if now < deadline {
            return None;
        }
        self.burst.take().map(|b| Fired {
            change: b.change,
            first: b.first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events at the given milliseconds (with their change), polls at the given milliseconds;
    /// expects what each poll returns, as `(poll ms, fired change, first ms)`.
    fn check(events: &[(u64, Change)], polls: &[u64], expected: &[(u64, Change, u64)]) {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut d = Debouncer::new(Duration::from_millis(50), Duration::from_millis(500));
        let mut timeline: Vec<(u64, Option<Change>)> =
            events.iter().map(|(t, c)| (*t, Some(*c))).collect();
        timeline.extend(polls.iter().map(|t| (*t, None)));
        timeline.sort_by_key(|(t, c)| (*t, c.is_none()));
        let mut got = Vec::new();
        for (t, what) in timeline {
            match what {
                Some(change) => d.event(ms(t), change),
                None => {
                    if let Some(fired) = d.poll(ms(t)) {
                        let first = fired.first.duration_since(t0).as_millis() as u64;
                        got.push((t, fired.change, first));
                    }
                }
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn debouncer_cases() {
        use Change::*;
        // One save: fires once the quiet period passed.
        check(&[(0, Worker)], &[10, 49, 50, 60], &[(50, Worker, 0)]);
        // An editor's burst (write temp, rename, chmod) is one build.
        check(
            &[(0, Worker), (3, Worker), (5, Worker)],
            &[20, 54, 55, 100],
            &[(55, Worker, 0)],
        );
        // A host change anywhere in the burst wins.
        check(
            &[(0, Worker), (10, Host), (20, Worker)],
            &[70, 71],
            &[(70, Host, 0)],
        );
        // Two saves far apart are two builds.
        check(
            &[(0, Worker), (200, Worker)],
            &[60, 260],
            &[(60, Worker, 0), (260, Worker, 200)],
        );
        // A file written continuously still builds after max_wait.
        let continuous: Vec<(u64, Change)> = (0..30).map(|i| (i * 30, Worker)).collect();
        check(&continuous, &[499, 500], &[(500, Worker, 0)]);
        // Nothing happened: nothing fires.
        check(&[], &[0, 1000], &[]);
    }

    #[test]
    fn deadline_follows_the_last_event_but_not_past_max_wait() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(50), Duration::from_millis(500));
        assert_eq!(d.deadline(), None);
        d.event(t0, Change::Worker);
        assert_eq!(d.deadline(), Some(t0 + Duration::from_millis(50)));
        d.event(t0 + Duration::from_millis(480), Change::Worker);
        assert_eq!(d.deadline(), Some(t0 + Duration::from_millis(500)));
    }
}
