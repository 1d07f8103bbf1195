//! Raw IP sockets (after `raw_ip.c`): what ping and traceroute use. A raw
//! socket of protocol P receives a copy of every datagram of protocol P
//! the stack does not consume itself (for ICMP: replies and errors), and
//! may send datagrams with a header of its own (`IP_HDRINCL`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::Waker;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::vnet::module::{SI_ORDER_ANY, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

/// Datagrams a raw socket holds before it drops (its receive buffer).
pub const RIP_RECVSPACE: usize = 1024;

/// A raw socket's receiving end.
#[derive(Debug, Default)]
pub struct RawSock {
    pub proto: u8,
    /// Datagrams (from the IP header), with the time they came and the
    /// interface they came in by (IP_RECVIF, IPV6_PKTINFO).
    pub queue: VecDeque<(Time, u32, Vec<u8>)>,
    waker: Option<Waker>,
    pub drops: u64,
    /// `ICMP6_FILTER` (RFC 3542 §3.2): the ICMPv6 types it takes, a bit
    /// each; `None` takes all.
    pub icmp6_filter: Option<[u64; 4]>,
    /// Its groups and multicast sending options: once it has joined
    /// one, it takes multicasts only of the groups it joined.
    pub mopts: crate::netinet::in_mcast::MOptions,
}

impl RawSock {
    /// Take the next datagram, or leave `w` to be woken when one comes.
    pub fn poll_recv(this: &Rc<RefCell<RawSock>>, w: &Waker) -> Option<(Time, Vec<u8>)> {
        Self::poll_recvif(this, w).map(|(t, _, d)| (t, d))
    }

    /// The next datagram with the interface it came in by.
    pub fn poll_recvif(this: &Rc<RefCell<RawSock>>, w: &Waker) -> Option<(Time, u32, Vec<u8>)> {
        let mut s = this.borrow_mut();
        let x = s.queue.pop_front();
        if x.is_none() {
            s.waker = Some(w.clone());
        }
        x
    }
}

/// The raw sockets of a vnet.
#[derive(Debug, Default)]
pub struct Raw {
    socks: Vec<Weak<RefCell<RawSock>>>,
}

/// The raw IP module's slot.
pub const RAW: VnetKey<Raw> = VnetKey::fixed(6);

pub(crate) fn module() -> Module<Raw> {
    Module::new("rawip", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), |_, _| {
        Raw::default()
    })
    .builtin()
}

/// Open a raw socket for protocol `proto` in vnet `v`; it closes when the
/// last handle is dropped.
pub fn rip_attach(v: &mut Vnet, proto: u8) -> Rc<RefCell<RawSock>> {
    let s = Rc::new(RefCell::new(RawSock {
        proto,
        ..RawSock::default()
    }));
    v.builtin(RAW).socks.push(Rc::downgrade(&s));
    s
}

/// Offer a datagram of protocol `proto` that came in by `ifindex` to the
/// raw sockets; true if one took it.
pub fn rip_input(k: &mut Kernel, v: &mut Vnet, proto: u8, datagram: &[u8], ifindex: u32) -> bool {
    let now = k.now();
    let Some(raw) = v.get_mut(RAW) else { return false };
    raw.socks.retain(|w| w.strong_count() > 0);
    let mut taken = false;
    for s in &raw.socks {
        let Some(s) = s.upgrade() else { continue };
        let Ok(mut s) = s.try_borrow_mut() else { continue };
        if s.proto != proto {
            continue;
        }
        if let Some(g) = mcast_dst(datagram)
            && !s.mopts.groups.is_empty()
            && !s.mopts.member(g, ifindex)
        {
            continue;
        }
        if let Some(f) = &s.icmp6_filter
            && proto == crate::netinet6::ip6::IPPROTO_ICMPV6
            && let Some(&t) = crate::wire::ipv6::ext_walk(datagram)
                .ok()
                .and_then(|c| datagram.get(c.off))
            && f[t as usize / 64] & (1 << (t % 64)) == 0
        {
            continue;
        }
        taken = true;
        if s.queue.len() >= RIP_RECVSPACE {
            s.drops += 1;
            continue;
        }
        s.queue.push_back((now, ifindex, datagram.to_vec()));
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }
    taken
}

/// The group a datagram (from its IP header) is sent to, if it is one.
fn mcast_dst(d: &[u8]) -> Option<std::net::IpAddr> {
    let a: std::net::IpAddr = match d.first()? >> 4 {
        4 => <[u8; 4]>::try_from(d.get(16..20)?).ok()?.into(),
        6 => <[u8; 16]>::try_from(d.get(24..40)?).ok()?.into(),
        _ => return None,
    };
    a.is_multicast().then_some(a)
}
