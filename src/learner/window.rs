//! Sliding window of the most recent invocations.

use std::collections::VecDeque;

use super::Invocation;

/// The `capacity` most recent invocations, oldest first. ALPS's artifact
/// keeps 100.
#[derive(Clone, Debug)]
pub struct Window {
    capacity: usize,
    items: VecDeque<Invocation>,
}

impl Window {
    /// An empty window holding at most `capacity` invocations (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            items: VecDeque::with_capacity(capacity),
        }
    }

    /// Appends `inv`, evicting the oldest invocation when full.
    pub fn push(&mut self, inv: Invocation) {
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(inv);
    }

    /// Number of invocations held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing was observed yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Maximum number of invocations held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The invocations, oldest first, as one contiguous slice.
    pub fn as_slice(&mut self) -> &[Invocation] {
        self.items.make_contiguous()
    }

    /// Keeps only the invocations `keep` accepts, in order.
    pub fn retain(&mut self, keep: impl FnMut(&Invocation) -> bool) {
        self.items.retain(keep);
    }

    /// Iterates oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Invocation> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_in_order() {
        let mut w = Window::new(3);
        assert!(w.is_empty());
        for id in 1..=5 {
            w.push(Invocation {
                func_id: id,
                ..Default::default()
            });
        }
        assert_eq!(w.len(), 3);
        let ids: Vec<u32> = w.as_slice().iter().map(|i| i.func_id).collect();
        assert_eq!(ids, vec![3, 4, 5]);
        assert_eq!(w.iter().next().unwrap().func_id, 3);
    }

    #[test]
    fn zero_capacity_becomes_one() {
        let mut w = Window::new(0);
        w.push(Invocation::default());
        w.push(Invocation::default());
        assert_eq!((w.len(), w.capacity()), (1, 1));
    }
}
