//! A learning Ethernet bridge, after if_bridge(4): members are interfaces
//! of the bridge's vnet; source addresses are learned per port and age out;
//! frames to unknown or broadcast addresses are flooded to every member but
//! the one they came in on; frames for the bridge itself go up its stack.

use rustc_hash::FxHashMap;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::{BROADCAST, ether_input, is_multicast};
use crate::net::ifnet::{IF, IFF_PROMISC, IfError, IfKind, Ifnet, if_transmit};
use crate::vnet::Vnet;
use crate::wire::ethernet::Frame;

/// if_bridge's defaults: 2000 addresses, 1200 s before one ages out.
pub const BRIDGE_RTABLE_MAX: usize = 2000;
pub const BRIDGE_RTABLE_TIMEOUT: Duration = Duration::from_secs(1200);

/// A learned address: the port it was seen on, and when it ages out.
#[derive(Clone, Copy, Debug)]
pub struct BrEntry {
    pub port: u32,
    pub expire: Time,
}

/// The bridge's own state, inside its interface.
#[derive(Debug, Default)]
pub struct Bridge {
    pub members: Vec<u32>,
    pub table: FxHashMap<[u8; 6], BrEntry>,
    pub maxaddr: usize,
    pub timeout: Duration,
}

impl Bridge {
    pub fn new() -> Bridge {
        Bridge {
            maxaddr: BRIDGE_RTABLE_MAX,
            timeout: BRIDGE_RTABLE_TIMEOUT,
            ..Bridge::default()
        }
    }

    fn learn(&mut self, mac: [u8; 6], port: u32, now: Time) {
        if is_multicast(&mac) {
            return;
        }
        let expire = now.saturating_add(self.timeout);
        if let Some(e) = self.table.get_mut(&mac) {
            *e = BrEntry { port, expire };
            return;
        }
        if self.table.len() >= self.maxaddr {
            self.table.retain(|_, e| e.expire > now);
            if self.table.len() >= self.maxaddr {
                return;
            }
        }
        self.table.insert(mac, BrEntry { port, expire });
    }

    fn port_of(&self, mac: &[u8], now: Time) -> Option<u32> {
        let mac: [u8; 6] = mac.try_into().ok()?;
        self.table.get(&mac).filter(|e| e.expire > now).map(|e| e.port)
    }
}

fn bridge_mut(v: &mut Vnet, br: u32) -> Option<&mut Bridge> {
    match &mut v.builtin(IF).get_mut(br)?.kind {
        IfKind::Bridge(b) => Some(b),
        _ => None,
    }
}

/// `ifconfig bridgeN addm IF`.
pub fn bridge_addm(v: &mut Vnet, br: u32, member: u32) -> Result<(), IfError> {
    let ifs = v.builtin(IF);
    let name = |i: &Ifnet| i.name.clone();
    let m = ifs.get(member).ok_or(IfError::NoSuchIf(member.to_string()))?;
    let mname = name(m);
    if m.bridge.is_some() {
        return Err(IfError::Other(format!("BRDGADD {mname}: File exists")));
    }
    if m.is_loopback() || matches!(m.kind, IfKind::Bridge(_)) || member == br {
        return Err(IfError::Other(format!("BRDGADD {mname}: Invalid argument")));
    }
    if let Some(m) = ifs.get_mut(member) {
        m.bridge = Some(br);
        m.flags |= IFF_PROMISC;
    }
    let b = bridge_mut(v, br).ok_or(IfError::Other("not a bridge".into()))?;
    b.members.push(member);
    Ok(())
}

/// `ifconfig bridgeN deletem IF`.
pub fn bridge_deletem(v: &mut Vnet, br: u32, member: u32) -> Result<(), IfError> {
    let ifs = v.builtin(IF);
    let m = ifs.get_mut(member).ok_or(IfError::NoSuchIf(member.to_string()))?;
    if m.bridge != Some(br) {
        return Err(IfError::Other(format!("BRDGDEL {}: Invalid argument", m.name)));
    }
    m.bridge = None;
    m.flags &= !IFF_PROMISC;
    if let Some(b) = bridge_mut(v, br) {
        b.members.retain(|&x| x != member);
        b.table.retain(|_, e| e.port != member);
    }
    Ok(())
}

/// An interface leaves the vnet: out of its bridge, or, if it is a bridge,
/// its members are set free.
pub fn bridge_ifdetach(v: &mut Vnet, index: u32) {
    let Some(ifs) = v.get_mut(IF) else { return };
    let (bridge, members) = match ifs.get(index) {
        Some(i) => (
            i.bridge,
            match &i.kind {
                IfKind::Bridge(b) => b.members.clone(),
                _ => vec![],
            },
        ),
        None => return,
    };
    for m in members {
        if let Some(i) = ifs.get_mut(m) {
            i.bridge = None;
            i.flags &= !IFF_PROMISC;
        }
    }
    if let Some(br) = bridge {
        let _ = bridge_deletem(v, br, index);
    }
}

/// A frame came in on `port`, a member of bridge `br`.
pub fn bridge_input(k: &mut Kernel, v: &mut Vnet, br: u32, port: u32, m: Mbuf) {
    let now = k.now();
    let Some(f) = Frame::new_checked(m.data()) else { return };
    let (dst, src) = (f.dst_addr(), f.src_addr());
    let ifs = v.builtin(IF);
    let Some(bif) = ifs.get(br) else { return };
    if !bif.is_up() {
        return;
    }
    let local = dst == bif.lladdr || ifs.list.iter().any(|i| i.bridge == Some(br) && i.lladdr == dst);
    let Some(b) = bridge_mut(v, br) else { return };
    b.learn(src, port, now);
    if local {
        return bridge_local(k, v, br, m);
    }
    if dst == BROADCAST || is_multicast(&dst) {
        bridge_flood(k, v, br, Some(port), &m);
        return bridge_local(k, v, br, m);
    }
    match b.port_of(&dst, now) {
        Some(p) if p == port => {} // same segment: not ours to forward
        Some(p) => drop(if_transmit(k, v, p, m)),
        None => bridge_flood(k, v, br, Some(port), &m),
    }
}

/// Hand a frame to the bridge interface's own stack.
fn bridge_local(k: &mut Kernel, v: &mut Vnet, br: u32, m: Mbuf) {
    if let Some(b) = v.builtin(IF).get_mut(br) {
        b.counters.ipackets += 1;
        b.counters.ibytes += m.len() as u64;
    }
    ether_input(k, v, br, m);
}

fn bridge_flood(k: &mut Kernel, v: &mut Vnet, br: u32, except: Option<u32>, m: &Mbuf) {
    let members = match bridge_mut(v, br) {
        Some(b) => b.members.clone(),
        None => return,
    };
    for p in members.into_iter().filter(|&p| Some(p) != except) {
        let _ = if_transmit(k, v, p, m.clone());
    }
}

/// The bridge interface's own output (its stack sending).
pub fn bridge_output(k: &mut Kernel, v: &mut Vnet, br: u32, m: Mbuf) {
    let now = k.now();
    let Some(f) = Frame::new_checked(m.data()) else { return };
    let port = bridge_mut(v, br).and_then(|b| b.port_of(&f.dst_addr(), now));
    match port {
        Some(p) => drop(if_transmit(k, v, p, m)),
        None => bridge_flood(k, v, br, None, &m),
    }
}
