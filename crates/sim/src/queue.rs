//! The event queue: a hand-written binary min-heap keyed by `(time, seq)`.
//!
//! `seq` is a counter assigned at push, so events at the same time pop in push order: the
//! order of simultaneous events is part of the deterministic model, never left to chance.

use crate::time::SimTime;

/// A min-heap of `(time, seq, event)`.
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    heap: Vec<(u64, u64, E)>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: Vec::new(), next_seq: 0 }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push((time.0, seq, event));
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let p = (i - 1) / 2;
            if key(&self.heap[i]) < key(&self.heap[p]) {
                self.heap.swap(i, p);
                i = p;
            } else {
                break;
            }
        }
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|e| SimTime(e.0))
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.heap.is_empty() {
            return None;
        }
        let last = self.heap.len() - 1;
        self.heap.swap(0, last);
        let (t, _, e) = self.heap.pop().expect("non-empty");
        let n = self.heap.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && key(&self.heap[r]) < key(&self.heap[l]) { r } else { l };
            if key(&self.heap[c]) < key(&self.heap[i]) {
                self.heap.swap(c, i);
                i = c;
            } else {
                break;
            }
        }
        Some((SimTime(t), e))
    }
}

#[inline]
fn key<E>(e: &(u64, u64, E)) -> (u64, u64) {
    (e.0, e.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_push_order() {
        let mut q = EventQueue::new();
        for (t, e) in [(5, 'a'), (1, 'b'), (5, 'c'), (0, 'd'), (1, 'e'), (3, 'f')] {
            q.push(SimTime(t), e);
        }
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|x| x.1)).collect();
        assert_eq!(order, ['d', 'b', 'e', 'f', 'a', 'c']);
    }
}
