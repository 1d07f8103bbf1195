//! ARP (RFC 826), after `if_ether.c`: a per-vnet cache of neighbours with
//! timeouts, a bounded queue of packets held while a neighbour is being
//! resolved, gratuitous ARP when an address is configured, and a warning
//! when someone else uses one of our addresses.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::kern::sysctl::Oid;
use crate::net::ethernet::{BROADCAST, ETHERTYPE_ARP, ETHERTYPE_IP, ether_ntoa, ether_output_frame};
use crate::net::ifnet::IF;
use crate::net::route::Inet;
use crate::netinet::in_::{in_ifaddr_for, in_ifaddrs, in_prefix};
use crate::vnet::module::{SI_ORDER_SECOND, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

use crate::wire::arp;
pub use crate::wire::arp::{ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST};
/// How long a neighbour that never answered is reported down (`arpt_down`).
pub const ARPT_DOWN: Duration = Duration::from_secs(20);

/// The state of a neighbour entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LlState {
    /// Asked, no answer yet.
    Incomplete,
    /// Known until `expire`.
    Reachable,
    /// Set by hand (`arp -s`): never expires.
    Static,
    /// Never answered: sending to it fails until `expire`.
    Down,
}

/// A neighbour (`llentry`).
#[derive(Debug)]
pub struct LlEntry {
    pub state: LlState,
    pub mac: [u8; 6],
    pub expire: Time,
    pub hold: VecDeque<Mbuf>,
    pub asked: u32,
    timer: Option<TimerId>,
}

impl LlEntry {
    fn new(state: LlState, mac: [u8; 6], expire: Time) -> LlEntry {
        LlEntry {
            state,
            mac,
            expire,
            hold: VecDeque::new(),
            asked: 0,
            timer: None,
        }
    }
}

/// (Re)arm the timer of the entry for `ip` on `index`: it fires `after`.
fn arp_arm(k: &mut Kernel, v: &mut Vnet, index: u32, ip: u32, after: Duration) {
    let t = k.timeout(
        after,
        Action::Vnet {
            vnet: v.id(),
            f: arp_timer,
            arg: key_arg(index, ip),
        },
    );
    match v.builtin(ARP).table.get_mut(&(index, ip)) {
        Some(e) => {
            if let Some(old) = e.timer.replace(t) {
                k.untimeout(old);
            }
        }
        None => {
            k.untimeout(t);
        }
    }
}

crate::stats! {
    /// ARP statistics (`struct arpstat`).
    #[derive(Copy)]
    pub struct ArpStat {
        txrequests,
        txreplies,
        rxrequests,
        rxreplies,
        received,
        dropped,
        timeouts,
        dupips,
    }
}

/// Per-vnet ARP state.
#[derive(Debug)]
pub struct Arp {
    /// Neighbours by (interface, address).
    pub table: FxHashMap<(u32, u32), LlEntry>,
    pub stats: crate::kern::counter::Counters<ArpStat>,
    /// `net.link.ether.inet.max_age`: seconds an entry stays valid.
    pub max_age: i32,
    /// `net.link.ether.inet.maxtries`: requests before giving up.
    pub maxtries: i32,
    /// `net.link.ether.inet.maxhold`: packets held per incomplete entry.
    pub maxhold: i32,
    /// `net.link.ether.inet.max_entries`: entries in the cache (vimage).
    pub max_entries: i32,
}

impl Default for Arp {
    fn default() -> Self {
        Arp {
            table: FxHashMap::default(),
            stats: Default::default(),
            max_age: 1200,
            maxtries: 5,
            maxhold: 16,
            max_entries: 4096,
        }
    }
}

/// The ARP module's slot.
pub const ARP: VnetKey<Arp> = VnetKey::fixed(2);

pub(crate) fn module() -> Module<Arp> {
    Module::new("arp", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_SECOND), |_, _| {
        Arp::default()
    })
    .netisr(crate::net::ethernet::ETHERTYPE_ARP, |k, v, index, m, _| {
        arp_input(k, v, index, m)
    })
    .destructor(|k, _, arp| {
        for e in arp.table.into_values() {
            if let Some(t) = e.timer {
                k.untimeout(t);
            }
        }
    })
    .sysctl_range(
        "net.link.ether.inet.max_age",
        "Lifetime of an entry in seconds",
        |s| &mut s.max_age,
        1,
        i32::MAX as i64,
    )
    .sysctl_range(
        "net.link.ether.inet.maxtries",
        "ARP resolution attempts before returning error",
        |s| &mut s.maxtries,
        1,
        100,
    )
    .sysctl_range(
        "net.link.ether.inet.maxhold",
        "Number of packets to hold per ARP entry",
        |s| &mut s.maxhold,
        0,
        1 << 16,
    )
    .sysctl_range(
        "net.link.ether.inet.max_entries",
        "Maximum number of entries in the ARP cache",
        |s| &mut s.max_entries,
        1,
        1 << 24,
    )
    .oid(|k| {
        Oid::vnet_stats(k, "net.link.ether.arp.stats", "ARP statistics (struct arpstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

fn key_arg(index: u32, ip: u32) -> u64 {
    ((index as u64) << 32) | ip as u64
}

fn arg_key(arg: u64) -> (u32, u32) {
    ((arg >> 32) as u32, arg as u32)
}

/// The fields of an ARP packet that vary (the sender's MAC is the
/// interface's).
struct ArpPkt {
    op: u16,
    sip: u32,
    tha: [u8; 6],
    tip: u32,
}

/// Build and send an ARP packet out of `index` to `dst`.
fn arp_send(k: &mut Kernel, v: &mut Vnet, index: u32, a: ArpPkt, dst: [u8; 6]) {
    let ArpPkt { op, sip, tha, tip } = a;
    let Some(sha) = v.builtin(IF).get(index).map(|i| i.lladdr) else {
        return;
    };
    let mut m = Mbuf::zeroed(ARP_LEN);
    arp::Packet::new_unchecked(m.data_mut()).emit(op, sha, sip, tha, tip);
    let st = &mut v.builtin(ARP).stats;
    match op {
        ARPOP_REQUEST => st.txrequests += 1,
        _ => st.txreplies += 1,
    }
    let _ = ether_output_frame(k, v, index, dst, ETHERTYPE_ARP, m);
}

/// Ask who has `tip`.
pub fn arp_request(k: &mut Kernel, v: &mut Vnet, index: u32, tip: u32) {
    let Some(sip) = in_ifaddr_for(v, index, tip) else {
        return;
    };
    let a = ArpPkt {
        op: ARPOP_REQUEST,
        sip,
        tha: [0; 6],
        tip,
    };
    arp_send(k, v, index, a, BROADCAST);
}

/// Gratuitous ARP: announce `addr` on `index` (sender = target = addr).
pub fn arp_announce(k: &mut Kernel, v: &mut Vnet, index: u32, addr: u32) {
    let a = ArpPkt {
        op: ARPOP_REQUEST,
        sip: addr,
        tha: [0; 6],
        tip: addr,
    };
    arp_send(k, v, index, a, BROADCAST);
}

/// Why resolution failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpErr {
    /// The neighbour did not answer (EHOSTDOWN).
    HostDown,
    /// The cache is full (ENOBUFS).
    NoBufs,
}

/// What `arpresolve` did with a packet: the neighbour's address with the
/// packet, `None` if it holds the packet, or why not with the packet.
pub type Resolved = Result<Option<([u8; 6], Mbuf)>, (ArpErr, Mbuf)>;

/// `arpresolve`: the MAC address of `ip` on `index`. If it is not known,
/// the packet is held and a request goes out; `Ok(None)` then.
pub fn arpresolve(k: &mut Kernel, v: &mut Vnet, index: u32, ip: u32, m: Mbuf) -> Resolved {
    let now = k.now();
    let arp = v.builtin(ARP);
    let maxhold = arp.maxhold.max(0) as usize;
    if let Some(e) = arp.table.get_mut(&(index, ip)) {
        match e.state {
            LlState::Static => return Ok(Some((e.mac, m))),
            LlState::Reachable if e.expire > now => return Ok(Some((e.mac, m))),
            LlState::Down if e.expire > now => return Err((ArpErr::HostDown, m)),
            LlState::Incomplete => {
                // Hold it; the oldest goes when the queue is full.
                e.hold.push_back(m);
                while e.hold.len() > maxhold {
                    e.hold.pop_front();
                    arp.stats.dropped += 1;
                }
                return Ok(None);
            }
            _ => {
                // Expired: forget it and ask again, keeping the packet.
                if let Some(t) = arp.table.remove(&(index, ip)).and_then(|e| e.timer) {
                    k.untimeout(t);
                }
            }
        }
    }
    let arp = v.builtin(ARP);
    if arp.table.len() >= arp.max_entries.max(1) as usize && !arp_evict(k, arp) {
        arp.stats.dropped += 1;
        return Err((ArpErr::NoBufs, m));
    }
    let mut e = LlEntry::new(LlState::Incomplete, [0; 6], Time::ZERO);
    e.asked = 1;
    if maxhold > 0 {
        e.hold.push_back(m);
    }
    arp.table.insert((index, ip), e);
    arp_arm(k, v, index, ip, Duration::from_secs(1));
    arp_request(k, v, index, ip);
    Ok(None)
}

/// Room for a neighbour we need, in a full cache: the learnt entry
/// nearest its expiry goes (what a flood of requests from made-up
/// senders would have filled the cache with), as nd6 does. False if
/// every entry is static or being resolved.
fn arp_evict(k: &mut Kernel, arp: &mut Arp) -> bool {
    let victim = arp
        .table
        .iter()
        .filter(|(_, e)| e.state == LlState::Reachable)
        .min_by_key(|(key, e)| (e.expire, **key))
        .map(|(key, _)| *key);
    match victim.and_then(|key| arp.table.remove(&key)) {
        Some(e) => {
            if let Some(t) = e.timer {
                k.untimeout(t);
            }
            true
        }
        None => false,
    }
}

/// An entry's timer: ask again, give up, or expire.
fn arp_timer(k: &mut Kernel, v: &mut Vnet, arg: u64) {
    let (index, ip) = arg_key(arg);
    let now = k.now();
    let arp = v.builtin(ARP);
    let maxtries = arp.maxtries.max(1) as u32;
    let Some(e) = arp.table.get_mut(&(index, ip)) else {
        return;
    };
    e.timer = None;
    match e.state {
        LlState::Incomplete if e.asked < maxtries => {
            e.asked += 1;
            arp_arm(k, v, index, ip, Duration::from_secs(1));
            arp_request(k, v, index, ip);
        }
        LlState::Incomplete => {
            // Nobody answered: drop what waited, report the host down.
            let n = e.hold.len() as u64;
            e.hold.clear();
            e.state = LlState::Down;
            e.expire = now.saturating_add(ARPT_DOWN);
            arp.stats.dropped += n;
            arp.stats.timeouts += 1;
            arp_arm(k, v, index, ip, ARPT_DOWN);
        }
        LlState::Static => {}
        LlState::Reachable | LlState::Down => {
            if e.expire <= now {
                arp.table.remove(&(index, ip));
            }
        }
    }
}

/// Mark `ip` as at `mac` on `index`, and send what was held for it.
fn arp_update(k: &mut Kernel, v: &mut Vnet, index: u32, ip: u32, mac: [u8; 6], create: bool) {
    let now = k.now();
    let arp = v.builtin(ARP);
    let max_age = Duration::from_secs(arp.max_age.max(1) as u64);
    let expire = now.saturating_add(max_age);
    let full = arp.table.len() >= arp.max_entries.max(1) as usize;
    let held = match arp.table.get_mut(&(index, ip)) {
        Some(e) if e.state == LlState::Static => return,
        Some(e) => {
            e.state = LlState::Reachable;
            e.mac = mac;
            e.expire = expire;
            e.asked = 0;
            std::mem::take(&mut e.hold)
        }
        None if create && !full => {
            arp.table
                .insert((index, ip), LlEntry::new(LlState::Reachable, mac, expire));
            VecDeque::new()
        }
        None => return,
    };
    arp_arm(k, v, index, ip, max_age);
    for m in held {
        let _ = ether_output_frame(k, v, index, mac, ETHERTYPE_IP, m);
    }
}

/// An ARP packet came in on `index`.
pub fn arp_input(k: &mut Kernel, v: &mut Vnet, index: u32, m: Mbuf) {
    v.builtin(ARP).stats.received += 1;
    let Some(a) = arp::Packet::new_checked(m.data()).filter(|a| a.is_ipv4_over_ethernet()) else {
        v.builtin(ARP).stats.dropped += 1;
        return;
    };
    let (op, sha, spa, tpa) = (a.operation(), a.sender_hw(), a.sender_ip(), a.target_ip());
    let Some(ifp) = v.builtin(IF).get(index) else { return };
    let (mymac, ifname) = (ifp.lladdr, ifp.name.clone());
    if sha == mymac {
        return; // our own, looped back by a bridge
    }
    let mine = |a: u32| in_ifaddrs(v, index).any(|ia| ia.addr == a);
    let (spa_mine, tpa_mine) = (mine(spa), mine(tpa));
    let on_link = in_ifaddrs(v, index).any(|ia| in_prefix(spa, ia.addr, ia.plen));
    match op {
        ARPOP_REQUEST => v.builtin(ARP).stats.rxrequests += 1,
        ARPOP_REPLY => v.builtin(ARP).stats.rxreplies += 1,
        _ => {
            v.builtin(ARP).stats.dropped += 1;
            return;
        }
    }
    if spa_mine {
        // Someone else claims our address: warn, but still answer.
        v.builtin(ARP).stats.dupips += 1;
        k.log(format!(
            "arp: {} is using my IP address {} on {ifname}!",
            ether_ntoa(&sha),
            Inet(spa)
        ));
    } else if spa != 0 && (tpa_mine || on_link) {
        // RFC 826: update what we know; learn the sender if we are the target.
        arp_update(k, v, index, spa, sha, tpa_mine);
    }
    if op == ARPOP_REQUEST && tpa_mine {
        let a = ArpPkt {
            op: ARPOP_REPLY,
            sip: tpa,
            tha: sha,
            tip: spa,
        };
        arp_send(k, v, index, a, sha);
    }
}

/// Forget every neighbour on `index` (it left the vnet).
pub fn arp_ifdetach(v: &mut Vnet, index: u32) {
    if let Some(arp) = v.get_mut(ARP) {
        arp.table.retain(|&(i, _), _| i != index);
    }
}

/// `arp -s`: a permanent entry.
pub fn arp_add_static(k: &mut Kernel, v: &mut Vnet, index: u32, ip: u32, mac: [u8; 6]) {
    let old = v
        .builtin(ARP)
        .table
        .insert((index, ip), LlEntry::new(LlState::Static, mac, Time::ZERO));
    if let Some(t) = old.and_then(|e| e.timer) {
        k.untimeout(t);
    }
}

/// `arp -d`: delete the entries for `ip`; how many there were.
pub fn arp_delete(k: &mut Kernel, v: &mut Vnet, ip: u32) -> usize {
    let arp = v.builtin(ARP);
    let keys: Vec<(u32, u32)> = arp.table.keys().filter(|(_, a)| *a == ip).copied().collect();
    for key in &keys {
        if let Some(e) = arp.table.remove(key)
            && let Some(t) = e.timer
        {
            k.untimeout(t);
        }
    }
    keys.len()
}
