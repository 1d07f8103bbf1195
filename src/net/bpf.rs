//! Packet capture taps on interfaces, after bpf(4): every frame an
//! interface sends or receives is offered to its capture sessions, which
//! keep the ones their filter accepts, with the (virtual or real) time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::Waker;

use crate::kern::clock::Time;

/// A capture filter: true for frames to keep.
pub type BpfFilter = Box<dyn Fn(&[u8]) -> bool>;

/// The most frames a session holds before it drops (its buffer).
pub const BPF_MAXQUEUE: usize = 65536;

/// One capture session (a bpf descriptor).
pub struct Bpf {
    pub queue: VecDeque<(Time, Vec<u8>)>,
    pub filter: Option<BpfFilter>,
    waker: Option<Waker>,
    /// The interface went away.
    pub closed: bool,
    /// Frames seen by the filter, and frames dropped for want of room.
    pub received: u64,
    pub dropped: u64,
}

impl Bpf {
    pub fn new(filter: Option<BpfFilter>) -> Rc<RefCell<Bpf>> {
        Rc::new(RefCell::new(Bpf {
            queue: VecDeque::new(),
            filter,
            waker: None,
            closed: false,
            received: 0,
            dropped: 0,
        }))
    }

    /// Wake the reader when a frame comes (or the session closes).
    pub fn set_waker(&mut self, w: &Waker) {
        self.waker = Some(w.clone());
    }

    pub fn close(&mut self) {
        self.closed = true;
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn offer(&mut self, now: Time, data: &[u8]) {
        if self.filter.as_ref().is_some_and(|f| !f(data)) {
            return;
        }
        self.received += 1;
        if self.queue.len() >= BPF_MAXQUEUE {
            self.dropped += 1;
            return;
        }
        self.queue.push_back((now, data.to_vec()));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// `bpf_mtap`: offer a frame to every live session on an interface.
pub fn bpf_tap(sessions: &mut Vec<Weak<RefCell<Bpf>>>, now: Time, data: &[u8]) {
    sessions.retain(|w| w.strong_count() > 0);
    for s in sessions.iter() {
        if let Some(b) = s.upgrade()
            && let Ok(mut b) = b.try_borrow_mut()
        {
            b.offer(now, data);
        }
    }
}
