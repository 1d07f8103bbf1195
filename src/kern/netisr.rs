//! netisr(9) and the registrations between layers: the frames in flight
//! at this instant, the protocols by ethertype (`netisr_register`), and
//! what each protocol does when an interface arrives in a vnet or leaves
//! it (`dom_ifattach`, `dom_ifdetach`). The kernel knows none of them by name: the link
//! layer registers how a frame enters an interface, the protocols how a
//! packet of their type enters them.

use std::collections::VecDeque;

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::vnet::Vnet;

/// A frame waiting to be received by interface `index` (of that
/// generation: one that went meanwhile gets nothing).
#[derive(Clone, Debug)]
pub struct Frame {
    pub index: u32,
    pub generation: u32,
    pub m: Mbuf,
}

/// How a dequeued frame enters its interface (the link layer's).
pub type IfInput = fn(&mut Kernel, Frame);
/// A protocol's input: the packet from interface `index`, without its
/// link header; `bcast` says it came to the link broadcast.
pub type NetisrHandler = fn(&mut Kernel, &mut Vnet, u32, Mbuf, bool);
/// What a protocol does when interface `index` arrives in vnet `v` (an
/// IPv6 link-local address) or leaves it (addresses and routes forgotten).
pub type IfHook = fn(&mut Kernel, &mut Vnet, u32);

/// When an [`IfHook`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfEvent {
    /// `dom_ifattach`: created in the vnet, or moved into it.
    Attach,
    /// `dom_ifdetach`: destroyed, or moved out.
    Detach,
    /// Brought up (`if_up`; IPv6's `in6_if_up`).
    Up,
}

/// The queue and the tables. Entries carry the module slot that
/// registered them, so unregistering the module removes them.
#[derive(Default)]
pub struct Netisr {
    pub(crate) queue: VecDeque<Frame>,
    if_input: Option<IfInput>,
    protos: Vec<(u16, NetisrHandler, Option<usize>)>,
    ifhooks: Vec<(IfEvent, IfHook, Option<usize>)>,
}

impl Netisr {
    /// The link layer's entry for frames in flight.
    pub fn set_if_input(&mut self, f: IfInput) {
        self.if_input = Some(f);
    }

    /// `netisr_register`: packets of `ethertype` go to `handler` (a later
    /// registration of the same type replaces it).
    pub fn register(&mut self, ethertype: u16, handler: NetisrHandler, owner: Option<usize>) {
        self.protos.retain(|p| p.0 != ethertype);
        self.protos.push((ethertype, handler, owner));
    }

    /// The handler for `ethertype`.
    pub fn handler(&self, ethertype: u16) -> Option<NetisrHandler> {
        self.protos.iter().find(|p| p.0 == ethertype).map(|p| p.1)
    }

    /// `f` runs whenever an interface arrives in a vnet (`Attach`) or
    /// leaves one (`Detach`).
    pub fn register_ifhook(&mut self, ev: IfEvent, f: IfHook, owner: Option<usize>) {
        self.ifhooks.push((ev, f, owner));
    }

    /// The hooks for `ev`, in registration order.
    pub fn if_hooks(&self, ev: IfEvent) -> Vec<IfHook> {
        self.ifhooks.iter().filter(|h| h.0 == ev).map(|h| h.1).collect()
    }

    /// Forget what module `slot` registered.
    pub(crate) fn remove_owned(&mut self, slot: usize) {
        self.protos.retain(|p| p.2 != Some(slot));
        self.ifhooks.retain(|h| h.2 != Some(slot));
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queue a frame for its interface at the current instant.
    pub fn enqueue(&mut self, f: Frame) {
        self.queue.push_back(f);
    }
}

/// Deliver the frame through the link layer's entry.
pub(crate) fn netisr_dispatch(k: &mut Kernel, f: Frame) {
    if let Some(input) = k.netisr.if_input {
        input(k, f);
    }
}
