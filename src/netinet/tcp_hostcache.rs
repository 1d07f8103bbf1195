//! The host cache (after `tcp_hostcache.c`), as far as path MTU
//! discovery needs it: the path MTU learned for a destination from
//! "packet too big" (RFC 8201 §4) or "fragmentation needed" (RFC 1191),
//! kept for `net.inet.tcp.hostcache.expire` seconds (after which the
//! path is tried at the link's MTU again, RFC 8201 §4's increase), for at
//! most `net.inet.tcp.hostcache.cachelimit` destinations.
//! IPv6 sends (`ip6_output`) and TCP's MSS (`tcp_mss_for`) consult it.

use std::net::IpAddr;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::kern::clock::Time;
use crate::netinet::tcp_var::TCP;
use crate::vnet::Vnet;

/// A vnet's cache; the table is made when the first path MTU is learned.
#[derive(Debug)]
pub struct HostCache {
    entries: Option<Box<FxHashMap<IpAddr, HcEntry>>>,
    /// `net.inet.tcp.hostcache.expire`: seconds an entry lives.
    pub expire: i32,
    /// `net.inet.tcp.hostcache.cachelimit`: most destinations kept.
    pub cachelimit: i32,
}

#[derive(Clone, Copy, Debug)]
struct HcEntry {
    mtu: u32,
    expire: Time,
}

impl Default for HostCache {
    fn default() -> Self {
        HostCache {
            entries: None,
            expire: 3600,
            cachelimit: 15360,
        }
    }
}

impl HostCache {
    /// Destinations held (`net.inet.tcp.hostcache.count`; expired ones
    /// until they are purged).
    pub fn count(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.len() as u64)
    }
}

/// The path MTU learned for `dst`, if any is still fresh (`tcp_hc_getmtu`).
pub fn tcp_hc_getmtu(v: &mut Vnet, now: Time, dst: IpAddr) -> Option<u32> {
    let e = v.builtin(TCP).hostcache.entries.as_ref()?.get(&dst)?;
    (e.expire > now).then_some(e.mtu)
}

/// Remember `mtu` for `dst` (`tcp_hc_updatemtu`). A full cache first
/// forgets what has expired, then an entry of its choosing.
pub fn tcp_hc_updatemtu(v: &mut Vnet, now: Time, dst: IpAddr, mtu: u32) {
    let hc = &mut v.builtin(TCP).hostcache;
    let limit = hc.cachelimit.max(1) as usize;
    let expire = now.saturating_add(Duration::from_secs(hc.expire.max(1) as u64));
    let entries = hc.entries.get_or_insert_with(Default::default);
    if entries.len() >= limit && !entries.contains_key(&dst) {
        entries.retain(|_, e| e.expire > now);
        if entries.len() >= limit
            && let Some(&old) = entries.keys().next()
        {
            entries.remove(&old);
        }
    }
    entries.insert(dst, HcEntry { mtu, expire });
}
