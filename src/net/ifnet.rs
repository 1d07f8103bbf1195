//! Network interfaces: the per-vnet interface list, the global interface
//! index, input and output dispatch, and moving interfaces between vnets
//! (after `if.c`, ifnet(9) and `if_vmove`).
//!
//! An interface lives in exactly one vnet's list. Its index is global, and
//! the global table says which vnet holds it, so a frame handed to an
//! index (by an epair, a timer, a TAP thread) reaches the right vnet — and
//! none at all if the interface or its vnet is gone.

use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Weak;

use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::global::GlobalKey;
use crate::kern::mbuf::Mbuf;
use crate::kern::netisr::{Frame, IfEvent};
use crate::net::bpf::Bpf;
use crate::net::pipe::Pipe;
use crate::vnet::module::{SI_ORDER_FIRST, SI_SUB_INIT_IF};
use crate::vnet::{Module, Prio, Vnet, VnetId, VnetKey};

// Interface flags (net/if.h).
pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_POINTOPOINT: u32 = 0x10;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_PROMISC: u32 = 0x100;
pub const IFF_SIMPLEX: u32 = 0x800;
pub const IFF_MULTICAST: u32 = 0x8000;
pub const IFF_LOWER_UP: u32 = 0x100_0000;

/// Flag names in bit order, for ifconfig's `flags=...<...>`.
pub const IFF_NAMES: &[(u32, &str)] = &[
    (IFF_UP, "UP"),
    (IFF_BROADCAST, "BROADCAST"),
    (0x4, "DEBUG"),
    (IFF_LOOPBACK, "LOOPBACK"),
    (IFF_POINTOPOINT, "POINTOPOINT"),
    (0x20, "NEEDSEPOCH"),
    (IFF_RUNNING, "RUNNING"),
    (IFF_NOARP, "NOARP"),
    (IFF_PROMISC, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x400, "DRV_OACTIVE"),
    (IFF_SIMPLEX, "SIMPLEX"),
    (0x1000, "LINK0"),
    (0x2000, "LINK1"),
    (0x4000, "LINK2"),
    (IFF_MULTICAST, "MULTICAST"),
    (0x10000, "CANTCONFIG"),
    (0x20000, "PPROMISC"),
    (0x40000, "MONITOR"),
    (0x80000, "STATICARP"),
    (0x100000, "STICKYARP"),
    (0x200000, "DYING"),
    (0x400000, "RENAMING"),
    (0x800000, "PALLMULTI"),
    (IFF_LOWER_UP, "LOWER_UP"),
];

/// The MTU of lo0.
pub const LOMTU: u32 = 16384;
/// The default Ethernet MTU.
pub const ETHERMTU: u32 = 1500;

/// Interface counters (`if_data`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfCounters {
    pub ipackets: u64,
    pub ierrors: u64,
    pub iqdrops: u64,
    pub ibytes: u64,
    pub imcasts: u64,
    pub opackets: u64,
    pub oerrors: u64,
    pub oqdrops: u64,
    pub obytes: u64,
    pub omcasts: u64,
    pub collisions: u64,
    /// Frames for a protocol nobody speaks.
    pub noproto: u64,
}

/// What kind of interface, with what it needs of its own.
#[derive(Debug)]
pub enum IfKind {
    Loop,
    /// One end of an epair(4); frames sent here arrive at `peer`.
    Epair {
        peer: u32,
    },
    Bridge(Box<crate::net::bridge::Bridge>),
    Tap(Box<crate::net::tap::Tap>),
    /// An 802.1Q vlan on a parent (vlan(4)).
    Vlan(crate::net::if_vlan::Vlan),
    /// A point-to-point IP tunnel (gif(4), gre(4)).
    Tunnel(crate::net::if_tunnel::Tunnel),
}

/// A network interface.
#[derive(Debug)]
pub struct Ifnet {
    pub index: u32,
    pub generation: u32,
    pub name: String,
    pub kind: IfKind,
    pub flags: u32,
    pub mtu: u32,
    pub lladdr: [u8; 6],
    pub counters: IfCounters,
    /// The vnet it was created in, where it returns when its vnet dies.
    pub home: VnetId,
    /// Link emulation on output.
    pub pipe: Option<Box<Pipe>>,
    /// Capture sessions (tcpdump).
    pub bpf: Vec<Weak<RefCell<Bpf>>>,
    /// The bridge this interface is a member of.
    pub bridge: Option<u32>,
    /// Its line rate in bit/s (`if_baudrate`, from its media); 0: none.
    /// Under the virtual clock frames leave one after another at it.
    pub baudrate: u64,
    /// `ifconfig IF description TEXT`.
    pub description: Option<String>,
    /// The groups its sockets joined, with how many did
    /// (`if_multiaddrs`, netinet/in_mcast.rs).
    pub multiaddrs: Vec<(std::net::IpAddr, u32)>,
}

impl Ifnet {
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    pub fn is_loopback(&self) -> bool {
        matches!(self.kind, IfKind::Loop)
    }

    /// Does it carry Ethernet frames (and so ARP)? Loopbacks and tunnels
    /// carry IP datagrams as they are.
    pub fn is_ethernet(&self) -> bool {
        matches!(
            self.kind,
            IfKind::Epair { .. } | IfKind::Bridge(_) | IfKind::Tap(_) | IfKind::Vlan(_)
        )
    }

    /// Is it point to point (its addresses have a far end)?
    pub fn is_p2p(&self) -> bool {
        self.flags & IFF_POINTOPOINT != 0
    }

    /// Mark the interface up or down (`if_up`/`if_down`); a bridge's link
    /// is up when it is. True if it was down and is now up.
    pub fn set_up(&mut self, up: bool) -> bool {
        let was = self.is_up();
        if up {
            self.flags |= IFF_UP;
        } else {
            self.flags &= !IFF_UP;
        }
        // A bridge's, a tunnel's, a loopback's link is up when it is.
        if matches!(self.kind, IfKind::Bridge(_) | IfKind::Tunnel(_) | IfKind::Loop) {
            self.flags = if up {
                self.flags | IFF_LOWER_UP
            } else {
                self.flags & !IFF_LOWER_UP
            };
        }
        up && !was
    }

    /// The interface's cloner family: "lo", "epair", "bridge", "tap",
    /// "vlan", "gif", "gre".
    pub fn family(&self) -> &'static str {
        match &self.kind {
            IfKind::Loop => "lo",
            IfKind::Epair { .. } => "epair",
            IfKind::Bridge(_) => "bridge",
            IfKind::Tap(_) => "tap",
            IfKind::Vlan(_) => "vlan",
            IfKind::Tunnel(t) if t.encap == crate::net::if_tunnel::Encap::Gre => "gre",
            IfKind::Tunnel(_) => "gif",
        }
    }

    /// A frame passes the interface (in or out): counted and offered to
    /// the capture sessions if the interface is up; dropped and counted
    /// otherwise.
    fn pass(&mut self, now: crate::kern::clock::Time, m: &mut Mbuf, rx: bool) -> bool {
        let c = &mut self.counters;
        if self.flags & IFF_UP == 0 {
            if rx {
                c.iqdrops += 1
            } else {
                c.oerrors += 1
            }
            return false;
        }
        let (pkts, bytes) = if rx {
            (&mut c.ipackets, &mut c.ibytes)
        } else {
            (&mut c.opackets, &mut c.obytes)
        };
        *pkts += 1;
        *bytes += m.len() as u64;
        // lo0 shows a packet once, as it leaves (if_simloop's one tap).
        let once = rx && self.is_loopback();
        if !self.bpf.is_empty() && !once {
            // What a capture shows is what the wire would carry.
            m.finish_csum();
            crate::net::bpf::bpf_tap(&mut self.bpf, now, m.data());
        }
        true
    }
}

/// The per-vnet interface list (`V_ifnet`), in attach order. Read it
/// freely; change it only through [`Ifnets::push`] and
/// [`Ifnets::remove`], which keep its indexes.
#[derive(Debug, Default)]
pub struct Ifnets {
    pub list: Vec<Ifnet>,
    /// Frames (of the MTU) an interface queues for its line
    /// (`net.link.epair.netisr_maxqlen`); past it, sending is `ENOBUFS`.
    pub maxqlen: u32,
    /// Microseconds a receiver lets back-to-back frames gather before it
    /// takes them (`net.link.epair.rx_int_delay`; 0: each as it comes).
    pub rx_int_delay: u32,
    /// Positions by interface index and by name, once the list is long
    /// (a switch's or a star's hub with thousands of ports).
    idx: Option<Box<IfIdx>>,
}

/// lo0's line rate under the virtual clock (FreeBSD's has none: it moves
/// as fast as the CPU, some tens of Gbit/s), so that time passes with the
/// bytes it carries.
pub const LO_BAUDRATE: u64 = 100_000_000_000;

/// epair(4)'s queue: 42 times `ifqmaxlen` (50), "42 shall be the number".
pub const IFQ_MAXLEN_EPAIR: u32 = 2100;

/// Interrupt moderation: 10 us, a batch of about eight full frames at
/// 10 Gbit/s.
pub const RX_INT_DELAY: u32 = 10;

/// A list this long gets its indexes; a shorter one is scanned.
const IF_IDX_MIN: usize = 32;

#[derive(Debug, Default)]
struct IfIdx {
    by_index: FxHashMap<u32, u32>,
    by_name: FxHashMap<Box<str>, u32>,
}

impl Ifnets {
    fn pos(&self, index: u32) -> Option<usize> {
        match &self.idx {
            Some(x) => x.by_index.get(&index).map(|&p| p as usize),
            None => self.list.iter().position(|i| i.index == index),
        }
    }

    fn pos_by_name(&self, name: &str) -> Option<usize> {
        match &self.idx {
            Some(x) => x.by_name.get(name).map(|&p| p as usize),
            None => self.list.iter().position(|i| i.name == name),
        }
    }

    pub fn get(&self, index: u32) -> Option<&Ifnet> {
        self.pos(index).map(|p| &self.list[p])
    }

    pub fn get_mut(&mut self, index: u32) -> Option<&mut Ifnet> {
        self.pos(index).map(|p| &mut self.list[p])
    }

    pub fn by_name(&self, name: &str) -> Option<&Ifnet> {
        self.pos_by_name(name).map(|p| &self.list[p])
    }

    pub fn by_name_mut(&mut self, name: &str) -> Option<&mut Ifnet> {
        self.pos_by_name(name).map(|p| &mut self.list[p])
    }

    fn index_from(&mut self, from: usize) {
        if let Some(x) = &mut self.idx {
            for (p, i) in self.list.iter().enumerate().skip(from) {
                x.by_index.insert(i.index, p as u32);
                x.by_name.insert(i.name.as_str().into(), p as u32);
            }
        }
    }

    /// Attach at the end.
    pub fn push(&mut self, ifp: Ifnet) {
        self.list.push(ifp);
        if self.idx.is_none() && self.list.len() >= IF_IDX_MIN {
            self.idx = Some(Box::default());
            self.index_from(0);
        } else {
            self.index_from(self.list.len() - 1);
        }
    }

    /// Detach interface `index`.
    pub fn remove(&mut self, index: u32) -> Option<Ifnet> {
        let pos = self.pos(index)?;
        let ifp = self.list.remove(pos);
        if self.list.len() < IF_IDX_MIN / 2 {
            self.idx = None;
        } else if let Some(x) = &mut self.idx {
            x.by_index.remove(&ifp.index);
            x.by_name.remove(ifp.name.as_str());
            self.index_from(pos);
        }
        Some(ifp)
    }

    /// Rename interface `index` (`ifconfig IF name NEW`).
    pub fn rename(&mut self, index: u32, name: &str) -> Result<(), IfError> {
        if self.by_name(name).is_some() {
            return Err(IfError::Other("ioctl SIOCSIFNAME (set name): File exists".into()));
        }
        let pos = self.pos(index).ok_or(IfError::NoSuchIf(index.to_string()))?;
        let old = std::mem::replace(&mut self.list[pos].name, name.to_string());
        if let Some(x) = &mut self.idx {
            x.by_name.remove(old.as_str());
            x.by_name.insert(name.into(), pos as u32);
        }
        Ok(())
    }

    /// The lowest unit `family` has free here (`lo` starts at 1: lo0 is
    /// every vnet's).
    pub fn unit_free(&self, family: &str) -> u32 {
        let used: std::collections::BTreeSet<u32> = self
            .list
            .iter()
            .filter_map(|i| i.name.strip_prefix(family).and_then(|u| u.parse().ok()))
            .collect();
        (0..).find(|u| !used.contains(u)).unwrap_or(0)
    }

    /// The index of lo0 (or whichever loopback comes first).
    pub fn loif(&self) -> Option<u32> {
        self.list.iter().find(|i| i.is_loopback()).map(|i| i.index)
    }
}

/// The interface layer's slot.
pub const IF: VnetKey<Ifnets> = VnetKey::fixed(0);

#[derive(Debug, Default)]
struct IfSlot {
    generation: u32,
    vnet: Option<VnetId>,
    /// The interface's line: it belongs to the index, so frames on it
    /// arrive even if the interface moves on meanwhile.
    line: crate::net::pipe::Line,
}

/// What is global about interfaces: the index table (with each index's
/// line), cloner units and MAC addresses.
#[derive(Debug, Default)]
pub struct IfGlobal {
    slots: Vec<IfSlot>,
    free: BTreeSet<u32>,
    /// Generations come from one counter, so an (index, generation) pair is never
    /// reused even when the table shrinks and grows again.
    next_gen: u32,
    /// Units in use per cloner family, and the lowest that may be free.
    units: Vec<(&'static str, BTreeSet<u32>, u32)>,
    macs: u64,
    /// Frames on their way across lines.
    pub(crate) in_flight: usize,
}

/// The interface layer's kernel-wide slot.
pub const IFG: GlobalKey<IfGlobal> = GlobalKey::fixed(0);

/// Boot: the interface index, and the way frames in flight enter it.
pub fn if_attach_global(k: &mut Kernel) {
    let key = k.globals.register(IfGlobal::default());
    debug_assert!(k.globals.get(key).is_some() && k.globals.get(IFG).is_some());
    k.netisr.set_if_input(netisr_dispatch);
}

/// The interface index (registered at boot, before anything can ask).
pub fn ifg(k: &mut Kernel) -> &mut IfGlobal {
    k.globals
        .get_mut(IFG)
        .expect("the interface index is registered at boot")
}

/// The interface index, to read.
pub fn ifg_ref(k: &Kernel) -> &IfGlobal {
    k.globals.get(IFG).expect("the interface index is registered at boot")
}

impl IfGlobal {
    /// Where interface `index` lives now.
    pub fn vnet_of(&self, index: u32) -> Option<VnetId> {
        self.slots.get(index as usize).and_then(|s| s.vnet)
    }

    pub fn gen_of(&self, index: u32) -> Option<u32> {
        self.slots
            .get(index as usize)
            .filter(|s| s.vnet.is_some())
            .map(|s| s.generation)
    }

    fn alloc_index(&mut self, vnet: VnetId) -> (u32, u32) {
        if self.slots.is_empty() {
            self.slots.push(IfSlot::default()); // index 0 is never used
        }
        let index = match self.free.pop_first() {
            Some(i) => i,
            None => {
                self.slots.push(IfSlot::default());
                (self.slots.len() - 1) as u32
            }
        };
        self.next_gen = self.next_gen.wrapping_add(1);
        self.slots[index as usize] = IfSlot {
            generation: self.next_gen,
            vnet: Some(vnet),
            line: Default::default(),
        };
        (index, self.next_gen)
    }

    /// The line of interface `index`.
    pub fn line_mut(&mut self, index: u32) -> Option<&mut crate::net::pipe::Line> {
        self.slots.get_mut(index as usize).map(|s| &mut s.line)
    }

    /// Put a frame on the line of `index`, arriving at `at`; the time to
    /// take it if that needs a timer (see `Line::push`).
    pub fn line_push(&mut self, index: u32, at: Time, n: Frame, rx_int_delay: Duration) -> Option<Time> {
        let line = &mut self.slots.get_mut(index as usize)?.line;
        self.in_flight += 1;
        line.push(at, n, rx_int_delay)
    }

    /// Frames that have crossed the line of `index` by `now` join the
    /// netisr queue `q`; when to take the next ones.
    pub fn line_drain(&mut self, index: u32, now: Time, q: &mut VecDeque<Frame>) -> Option<Time> {
        let line = &mut self.slots.get_mut(index as usize)?.line;
        let before = q.len();
        let next = line.drain_into(now, q);
        self.in_flight -= q.len() - before;
        next
    }

    fn free_index(&mut self, index: u32) {
        if let Some(s) = self.slots.get_mut(index as usize) {
            s.vnet = None;
            self.in_flight -= s.line.len();
            s.line = Default::default();
            self.free.insert(index);
        }
        while self.slots.len() > 1 && self.slots.last().is_some_and(|s| s.vnet.is_none()) {
            self.slots.pop();
            self.free.pop_last();
        }
        if self.slots.len() < self.slots.capacity() / 4 {
            self.slots.shrink_to(self.slots.len() * 2);
        }
    }

    /// The lowest free unit number of a cloner family (epair0, epair1...).
    pub fn unit_alloc(&mut self, family: &'static str, want: Option<u32>) -> Option<u32> {
        let pos = match self.units.iter().position(|(f, ..)| *f == family) {
            Some(p) => p,
            None => {
                self.units.push((family, BTreeSet::new(), 0));
                self.units.len() - 1
            }
        };
        let (_, used, low) = &mut self.units[pos];
        let unit = match want {
            Some(u) if used.contains(&u) => return None,
            Some(u) => u,
            None => {
                // Below `low` all are taken; walk the run of used ones.
                let mut u = *low;
                for &x in used.range(*low..) {
                    if x != u {
                        break;
                    }
                    u = u.checked_add(1)?;
                }
                *low = u + 1;
                u
            }
        };
        used.insert(unit);
        Some(unit)
    }

    pub fn unit_free(&mut self, family: &'static str, unit: u32) {
        if let Some((_, used, low)) = self.units.iter_mut().find(|(f, ..)| *f == family) {
            used.remove(&unit);
            *low = (*low).min(unit);
        }
    }

    /// A new unique, stable, locally administered MAC address.
    pub fn mac_alloc(&mut self) -> [u8; 6] {
        self.macs += 1;
        let b = self.macs.to_be_bytes();
        [0x02, b[3], b[4], b[5], b[6], b[7]]
    }
}

pub(crate) fn module() -> Module<Ifnets> {
    Module::new("if", Prio::new(SI_SUB_INIT_IF, SI_ORDER_FIRST), |k, v| {
        let mut ifs = Ifnets {
            list: Vec::with_capacity(1),
            maxqlen: IFQ_MAXLEN_EPAIR,
            rx_int_delay: RX_INT_DELAY,
            idx: None,
        };
        // lo0, in every vnet; its address comes with IPv4 (in.rs).
        let (index, generation) = ifg(k).alloc_index(v.id());
        ifs.list.push(Ifnet {
            index,
            generation,
            name: "lo0".into(),
            kind: IfKind::Loop,
            flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
            mtu: LOMTU,
            lladdr: [0; 6],
            counters: IfCounters::default(),
            home: v.id(),
            pipe: None,
            bpf: Vec::new(),
            bridge: None,
            baudrate: LO_BAUDRATE,
            description: None,
            multiaddrs: Vec::new(),
        });
        ifs
    })
    .destructor(if_vnet_uninit)
    .sysctl_range(
        "net.link.epair.netisr_maxqlen",
        "Maximum if_epair(4) send queue length, in frames of the MTU",
        |s| &mut s.maxqlen,
        1,
        1 << 20,
    )
    .sysctl_range(
        "net.link.epair.rx_int_delay",
        "Receive interrupt delay in usecs: back-to-back frames are taken in batches at most this often",
        |s| &mut s.rx_int_delay,
        0,
        1_000_000,
    )
    .builtin()
}

/// A vnet is going away: interfaces from elsewhere go home (addresses
/// purged); interfaces born here are destroyed, with their epair peers.
/// The vnet's other modules are gone already: nothing is left to purge.
fn if_vnet_uninit(k: &mut Kernel, v: &mut Vnet, mut ifs: Ifnets) {
    while let Some(mut ifp) = ifs.list.pop() {
        ifs.idx = None;
        if ifp.home != v.id() && k.vnets.is_live(ifp.home) {
            if_clear_for_move(&mut ifp);
            let home = ifp.home;
            let _ = k.with_vnet(home, |k, hv| if_attach_moved(k, hv, ifp));
            continue;
        }
        let peer = match ifp.kind {
            IfKind::Epair { peer } => match ifs.remove(peer) {
                Some(p) => Some(p),
                None => detach_anywhere(k, peer),
            },
            _ => None,
        };
        if_release(k, ifp);
        if let Some(p) = peer {
            if_release(k, p);
        }
    }
}

/// Detach interface `index` from whichever (other) vnet holds it.
fn detach_anywhere(k: &mut Kernel, index: u32) -> Option<Ifnet> {
    let pv = ifg(k).vnet_of(index)?;
    k.with_vnet(pv, |k, v| if_detach(k, v, index)).ok().flatten()
}

/// Allocate an interface in vnet `v` and attach it; returns its index.
pub fn if_attach(k: &mut Kernel, v: &mut Vnet, name: String, kind: IfKind, flags: u32, mtu: u32) -> u32 {
    let (index, generation) = ifg(k).alloc_index(v.id());
    let lladdr = if matches!(kind, IfKind::Loop) {
        [0; 6]
    } else {
        ifg(k).mac_alloc()
    };
    let home = v.id();
    v.builtin(IF).push(Ifnet {
        index,
        generation,
        name,
        kind,
        flags,
        mtu,
        lladdr,
        counters: IfCounters::default(),
        home,
        pipe: None,
        bpf: Vec::new(),
        bridge: None,
        baudrate: 0,
        description: None,
        multiaddrs: Vec::new(),
    });
    if_attach_hooks(k, v, index);
    index
}

/// `if_up`/`if_down`: mark interface `index` up or down; on the way up
/// each protocol hears of it (IPv6 gives it its link-local address).
/// True if it came up.
pub fn if_up(k: &mut Kernel, v: &mut Vnet, index: u32, up: bool) -> bool {
    let Some(ifp) = v.builtin(IF).get_mut(index) else {
        return false;
    };
    let was = ifp.flags;
    let came = ifp.set_up(up);
    if ifp.flags != was {
        crate::net::rtsock::rt_ifmsg(v, index);
    }
    if came {
        for hook in k.netisr.if_hooks(IfEvent::Up) {
            hook(k, v, index);
        }
    }
    came
}

/// Each protocol's `dom_ifattach`.
fn if_attach_hooks(k: &mut Kernel, v: &mut Vnet, index: u32) {
    for hook in k.netisr.if_hooks(IfEvent::Attach) {
        hook(k, v, index);
    }
    crate::net::rtsock::rt_ifannouncemsg(v, index, true);
}

/// Take interface `index` out of vnet `v`, purging what the vnet's
/// protocols knew of it (routes, ARP entries, bridge membership).
pub fn if_detach(k: &mut Kernel, v: &mut Vnet, index: u32) -> Option<Ifnet> {
    // Each protocol's dom_ifdetach.
    for hook in k.netisr.if_hooks(IfEvent::Detach) {
        hook(k, v, index);
    }
    crate::net::bridge::bridge_ifdetach(v, index);
    crate::net::rtsock::rt_ifannouncemsg(v, index, false);
    v.get_mut(IF)?.remove(index)
}

fn if_clear_for_move(ifp: &mut Ifnet) {
    ifp.bridge = None;
    ifp.multiaddrs.clear();
    if let IfKind::Bridge(b) = &mut ifp.kind {
        b.members.clear();
    }
}

fn if_attach_moved(k: &mut Kernel, v: &mut Vnet, ifp: Ifnet) {
    if let Some(s) = ifg(k).slots.get_mut(ifp.index as usize) {
        s.vnet = Some(v.id());
    }
    let index = ifp.index;
    if let Some(ifs) = v.get_mut(IF) {
        ifs.push(ifp);
    }
    if_attach_hooks(k, v, index);
}

/// Errors of interface operations, worded as ifconfig(8) prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfError {
    #[error("interface {0} does not exist")]
    NoSuchIf(String),
    #[error("SIOCSIFVNET: File exists")]
    NameInUse,
    #[error("SIOCSIFVNET: Invalid argument")]
    NotMovable,
    #[error("SIOCIFDESTROY: Invalid argument")]
    NotClonable,
    #[error("SIOCIFCREATE2: File exists")]
    UnitInUse,
    #[error("SIOCIFCREATE2: Invalid argument")]
    BadCloner,
    #[error("{0}")]
    Other(String),
}

/// `if_vmove`: move interface `index` from vnet `from` into vnet `to`
/// (`ifconfig IF vnet JAIL`). Its addresses are purged, as FreeBSD does.
pub fn if_vmove(k: &mut Kernel, from: VnetId, index: u32, to: VnetId) -> Result<(), IfError> {
    if from == to {
        return Ok(());
    }
    let name_taken = k
        .vnets
        .get(to)
        .ok()
        .and_then(|tv| tv.get(IF))
        .zip(
            k.vnets
                .get(from)
                .ok()
                .and_then(|fv| fv.get(IF))
                .and_then(|f| f.get(index)),
        )
        .is_some_and(|(t, ifp)| t.by_name(&ifp.name).is_some());
    if name_taken {
        return Err(IfError::NameInUse);
    }
    let ifp = k
        .with_vnet(from, |k, v| {
            if v.get(IF).and_then(|l| l.get(index)).is_some_and(|i| i.is_loopback()) {
                return Err(IfError::NotMovable);
            }
            if_detach(k, v, index).ok_or(IfError::NoSuchIf(index.to_string()))
        })
        .map_err(|e| IfError::Other(e.to_string()))??;
    let mut ifp = ifp;
    if_clear_for_move(&mut ifp);
    k.with_vnet(to, |k, v| if_attach_moved(k, v, ifp))
        .map_err(|e| IfError::Other(e.to_string()))
}

/// Destroy an interface (and an epair's other end): `ifconfig IF destroy`.
pub fn if_destroy(k: &mut Kernel, v: &mut Vnet, index: u32) -> Result<(), IfError> {
    let ifp = v
        .get(IF)
        .and_then(|l| l.get(index))
        .ok_or(IfError::NoSuchIf(index.to_string()))?;
    if ifp.is_loopback() {
        return Err(IfError::NotClonable);
    }
    let ifp = if_detach(k, v, index).ok_or(IfError::NoSuchIf(index.to_string()))?;
    let peer = match ifp.kind {
        IfKind::Epair { peer } if v.get(IF).is_some_and(|l| l.get(peer).is_some()) => if_detach(k, v, peer),
        IfKind::Epair { peer } => detach_anywhere(k, peer),
        _ => None,
    };
    if_release(k, ifp);
    if let Some(p) = peer {
        if_release(k, p);
    }
    Ok(())
}

/// Release a detached interface: its capture sessions, index and unit.
fn if_release(k: &mut Kernel, mut ifp: Ifnet) {
    for b in ifp.bpf.drain(..) {
        if let Some(b) = b.upgrade() {
            b.borrow_mut().close();
        }
    }
    ifg(k).free_index(ifp.index);
    let family = ifp.family();
    if let Some(unit) = unit_of(&ifp.name, family) {
        ifg(k).unit_free(family, unit);
    }
    if let IfKind::Tap(t) = &mut ifp.kind {
        t.close();
    }
}

/// The unit number in an interface name ("epair12a" -> 12).
pub fn unit_of(name: &str, family: &str) -> Option<u32> {
    let rest = name.strip_prefix(family)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Queue a frame for reception by interface `index` at the current
/// instant (what an epair or a TAP thread does).
pub fn netisr_queue(k: &mut Kernel, index: u32, m: Mbuf) {
    if let Some(generation) = ifg(k).gen_of(index) {
        k.netisr.enqueue(Frame { index, generation, m });
    }
}

/// Deliver one queued frame: into the vnet that holds the interface now,
/// if it still exists.
pub fn netisr_dispatch(k: &mut Kernel, n: Frame) {
    let Some(slot) = ifg(k).slots.get(n.index as usize) else {
        return;
    };
    let (Some(vnet), true) = (slot.vnet, slot.generation == n.generation) else {
        return;
    };
    let _ = k.with_vnet(vnet, |k, v| if_input(k, v, n.index, n.m));
}

/// A frame arrives on an interface: count, capture, then hand it to the
/// bridge it belongs to, or to Ethernet (for lo0, to IP).
pub fn if_input(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf) {
    let now = k.now();
    let Some(ifp) = v.builtin(IF).get_mut(index) else {
        return;
    };
    if !ifp.pass(now, &mut m, true) {
        return;
    }
    if let Some(br) = ifp.bridge {
        return crate::net::bridge::bridge_input(k, v, br, index, m);
    }
    if ifp.is_ethernet() {
        return crate::net::ethernet::ether_input(k, v, index, m);
    }
    // lo0 and tunnels carry bare IP: the protocol of its version.
    let etype = match m.data().first().map(|b| b >> 4) {
        Some(4) => crate::net::ethernet::ETHERTYPE_IP,
        Some(6) => crate::net::ethernet::ETHERTYPE_IPV6,
        _ => 0,
    };
    if_proto_input(k, v, index, etype, m, false);
}

/// A packet (its link header off) to the protocol registered for
/// `etype` (netisr_register), or counted as for no protocol.
pub fn if_proto_input(k: &mut Kernel, v: &mut Vnet, index: u32, etype: u16, m: Mbuf, bcast: bool) {
    match k.netisr.handler(etype) {
        Some(handler) => handler(k, v, index, m, bcast),
        None => {
            if let Some(ifp) = v.builtin(IF).get_mut(index) {
                ifp.counters.noproto += 1;
            }
        }
    }
}

/// Where a frame leaving an interface goes: the other end of an epair,
/// or the real host behind a TAP device.
pub enum Exit {
    Peer(u32),
    Host(crate::net::tap::TapWriter),
}

/// The interface's send queue is full (`ENOBUFS`): the frame was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoBufs;

/// Send a frame out of an interface (the driver's `if_transmit`): count,
/// capture, then the line, the link emulation pipe and the kind's own way
/// out. A frame refused for want of queue room is `NoBufs`.
pub fn if_transmit(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf) -> Result<(), NoBufs> {
    let now = k.now();
    let Some(ifp) = v.builtin(IF).get_mut(index) else {
        return Ok(());
    };
    if !ifp.pass(now, &mut m, false) {
        return Ok(());
    }
    match &ifp.kind {
        IfKind::Loop => crate::net::pipe::pipe_output(k, v, index, m, Exit::Peer(index)),
        &IfKind::Epair { peer } => crate::net::pipe::pipe_output(k, v, index, m, Exit::Peer(peer)),
        IfKind::Bridge(_) => {
            crate::net::bridge::bridge_output(k, v, index, m);
            Ok(())
        }
        IfKind::Tap(t) => {
            let w = t.writer();
            crate::net::pipe::pipe_output(k, v, index, m, Exit::Host(w))
        }
        IfKind::Vlan(_) => crate::net::if_vlan::vlan_output(k, v, index, m),
        IfKind::Tunnel(_) => crate::net::if_tunnel::tunnel_output(k, v, index, m),
    }
}
