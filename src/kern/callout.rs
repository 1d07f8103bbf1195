//! Timers: the kernel's event queue, after callout(9).
//!
//! A timer is an entry in a slab plus a (deadline, sequence) key in a
//! binary heap: scheduling and cancelling are O(log n) and O(1), ties fire
//! in the order they were scheduled, and a cancelled timer costs nothing
//! but a stale heap key, which is swept once stale keys outnumber live ones.
//! A vnet with no timers costs no CPU at all.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::vnet::{Vnet, VnetId};

/// A handler that runs inside a vnet: the vnet is lent out of the table
/// for the call, the rest of the kernel stays reachable.
pub type VnetFn = fn(&mut Kernel, &mut Vnet, u64);

/// What a timer does when it fires.
pub enum Action {
    /// Run `f(kernel, vnet, arg)` in `vnet`; skipped if the vnet is gone.
    Vnet { vnet: VnetId, f: VnetFn, arg: u64 },
    /// Wake a task (a process sleeping or waiting for a deadline).
    Wake(Waker),
    /// Run a closure against the kernel.
    Call(Box<dyn FnOnce(&mut Kernel)>),
    /// A frame arrives at an interface (a link's delay is over).
    Netisr(crate::kern::netisr::Frame),
    /// Run `f(kernel, arg)`: a closure's work without its box (frames
    /// on a line have crossed it, say).
    Fn { f: fn(&mut Kernel, u64), arg: u64 },
}

/// Names a scheduled timer, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId {
    slot: u32,
    seq: u64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    when: Time,
    seq: u64,
    slot: u32,
}

/// A timer's slot; `seq` (never reused) tells its timer from earlier ones.
struct Slot {
    seq: u64,
    action: Option<Action>,
}

/// The timer queue.
#[derive(Default)]
pub struct Callout {
    heap: BinaryHeap<Reverse<Key>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    seq: u64,
}

impl Callout {
    /// Schedule `action` at `when`.
    pub fn schedule(&mut self, when: Time, action: Action) -> TimerId {
        let seq = self.seq;
        self.seq += 1;
        let new = Slot {
            seq,
            action: Some(action),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = new;
                s
            }
            None => {
                self.slots.push(new);
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse(Key { when, seq, slot }));
        self.live += 1;
        TimerId { slot, seq }
    }

    /// Cancel a pending timer; false if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.slots.get_mut(id.slot as usize) {
            Some(s) if s.seq == id.seq && s.action.is_some() => {
                self.release(id.slot);
                if self.heap.len() > 2 * self.live + 64 {
                    self.sweep();
                }
                true
            }
            _ => false,
        }
    }

    /// Is `id` still pending?
    pub fn pending(&self, id: TimerId) -> bool {
        self.slots
            .get(id.slot as usize)
            .is_some_and(|s| s.seq == id.seq && s.action.is_some())
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn release(&mut self, slot: u32) -> Option<Action> {
        let s = &mut self.slots[slot as usize];
        let a = s.action.take();
        self.free.push(slot);
        self.live -= 1;
        if self.live == 0 {
            // Idle: give the memory back.
            self.heap = BinaryHeap::new();
            self.slots = Vec::new();
            self.free = Vec::new();
        }
        a
    }

    fn sweep(&mut self) {
        let slots = &self.slots;
        let keys: Vec<_> = std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .filter(|Reverse(k)| slots[k.slot as usize].seq == k.seq && slots[k.slot as usize].action.is_some())
            .collect();
        self.heap = BinaryHeap::from(keys);
    }

    fn is_stale(&self, k: &Key) -> bool {
        self.slots
            .get(k.slot as usize)
            .is_none_or(|s| s.seq != k.seq || s.action.is_none())
    }

    /// The deadline of the earliest pending timer.
    pub fn next_deadline(&mut self) -> Option<Time> {
        while let Some(Reverse(k)) = self.heap.peek() {
            if self.is_stale(k) {
                self.heap.pop();
            } else {
                return Some(k.when);
            }
        }
        None
    }

    /// Remove and return the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Time) -> Option<Action> {
        loop {
            let Reverse(k) = self.heap.peek()?;
            if self.is_stale(k) {
                self.heap.pop();
                continue;
            }
            if k.when > now {
                return None;
            }
            let slot = k.slot;
            self.heap.pop();
            return self.release(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Action {
        Action::Call(Box::new(|_| {}))
    }

    #[test]
    fn fires_in_deadline_then_schedule_order() {
        let mut c = Callout::default();
        let a = c.schedule(
            Time(20),
            Action::Vnet {
                vnet: dummy(),
                f: |_, _, _| {},
                arg: 1,
            },
        );
        c.schedule(Time(10), call());
        c.schedule(Time(20), call());
        assert_eq!(c.next_deadline(), Some(Time(10)));
        assert!(c.pop_due(Time(5)).is_none());
        assert!(matches!(c.pop_due(Time(25)), Some(Action::Call(_))));
        assert!(matches!(c.pop_due(Time(25)), Some(Action::Vnet { arg: 1, .. })));
        assert!(!c.pending(a));
        assert!(matches!(c.pop_due(Time(25)), Some(Action::Call(_))));
        assert!(c.pop_due(Time(100)).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn cancelled_timers_never_fire_and_slots_are_not_confused() {
        let mut c = Callout::default();
        let a = c.schedule(Time(10), call());
        c.schedule(Time(30), call());
        assert!(c.cancel(a));
        assert!(!c.cancel(a), "double cancel");
        let b = c.schedule(Time(10), call());
        assert_eq!(b.slot, a.slot, "slot reused");
        assert!(!c.cancel(a), "stale id must not cancel the new timer");
        assert!(c.pending(b));
        assert_eq!(c.len(), 2);
        assert!(c.pop_due(Time(10)).is_some());
        assert!(c.pop_due(Time(10)).is_none());
    }

    #[test]
    fn stale_keys_are_swept() {
        let mut c = Callout::default();
        let keep = c.schedule(Time(1_000_000), call());
        for i in 0..10_000 {
            let t = c.schedule(Time(i), call());
            c.cancel(t);
        }
        assert!(c.heap.len() < 2 * c.live + 100, "heap holds {} keys", c.heap.len());
        assert!(c.pending(keep));
    }

    fn dummy() -> VnetId {
        let mut t = crate::vnet::VnetTable::new();
        t.reserve(None, 0).map(|v| v.id()).unwrap_or_else(|_| unreachable!())
    }
}
