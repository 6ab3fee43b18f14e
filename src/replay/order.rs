//! [`InOrder`]: items put in time order within a bounded window.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Puts items that arrive nearly in time order into time order, holding at most `window` of them.
///
/// A history is read file by file, and a GuardDuty S3 export sorts its files by day, so findings
/// arrive nearly in `updatedAt` order: only the findings within a file (or of the same day in
/// other accounts and regions) are out of order. `InOrder` holds the latest `window` items in a
/// heap and hands out the earliest once it is full, which sorts any input whose items are never
/// more than `window` places early. An item later than that is handed out at once and counted
/// as [`InOrder::late`]; its time is then taken as the last one handed out (time never goes back),
/// so memory stays bounded whatever the input.
#[derive(Debug)]
pub struct InOrder<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    window: usize,
    seq: u64,
    last: u64,
    late: u64,
}

#[derive(Debug)]
struct Entry<T> {
    time: u64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl<T> InOrder<T> {
    /// An empty buffer holding at most `window` items (at least 1).
    pub fn new(window: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            window: window.max(1),
            seq: 0,
            last: 0,
            late: 0,
        }
    }

    /// Adds `item` of `time` (seconds; `None`: the time of the last item handed out); returns the
    /// earliest item with its time once more than `window` are held.
    pub fn push(&mut self, time: Option<u64>, item: T) -> Option<(u64, T)> {
        let time = time.unwrap_or(self.last);
        if time < self.last {
            // Too late to be put in its place: handed out now, at the last time.
            self.late += 1;
            return Some((self.last, item));
        }
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            time,
            seq: self.seq,
            item,
        }));
        if self.heap.len() > self.window {
            self.pop()
        } else {
            None
        }
    }

    /// The earliest item held, with its time.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let Reverse(entry) = self.heap.pop()?;
        self.last = self.last.max(entry.time);
        Some((self.last, entry.item))
    }

    /// How many items came more than `window` places early and were handed out out of order.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_within_the_window_and_counts_what_comes_too_late() {
        let mut order = InOrder::new(2);
        let mut out = Vec::new();
        for (t, x) in [(5, 'a'), (3, 'b'), (4, 'c'), (9, 'd'), (1, 'e'), (8, 'f')] {
            out.extend(order.push(Some(t), x));
        }
        while let Some(next) = order.pop() {
            out.push(next);
        }
        // `e` (1) came after 3 was handed out: it goes out at once, at time 3.
        assert_eq!(
            out,
            [(3, 'b'), (4, 'c'), (4, 'e'), (5, 'a'), (8, 'f'), (9, 'd')]
        );
        assert_eq!(order.late(), 1);
    }
}
