//! ripngd: RIPng (RFC 2080), RIP over IPv6, as FRR's ripngd (`ripngd -d
//! -f frr.conf`, `router ripng`). ripd.rs's engine over `u128`: what is
//! IPv6's is here. Messages go between link-local addresses to ff02::9
//! or the asker, UDP port 521, hop limit 255 (§2.5); a response counts
//! only from a link-local source on the RIPng port (§2.4.2). A next hop
//! entry (metric 0xFF) names the link-local gateway of the routes after
//! it (§2.1.1). Link-local, multicast and loopback prefixes are never
//! routes. Routes go to the jail's IPv6 RIB, gateways with their zone.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use super::Frr;
use super::conf::{FrrConf, IfConf, RipConf, SplitHorizon};
use super::daemon::Daemon;
use super::rib::{Rib, RibFamily};
use super::ripd::{Entry, Kind, Rip, RipFamily, RipIf, RipMsg, mmss, rip_daemon};
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::Ifnet;
use crate::net::radix::Key;
use crate::netinet6::in6::{in6_ifaddrs, in6_linklocal};
use crate::socket::{BindOpts, UdpSocket};
use crate::vnet::Vnet;
use crate::wire::ipv6::{in6_clearscope, in6_getscope, in6_setscope, is_link_local};
use crate::wire::rip::RIP_REQUEST;
use crate::wire::ripng::{RIPNG_HDR_LEN, RIPNG_METRIC_NEXTHOP, RIPNG_RTE_LEN, RipngRepr, Rte};

pub const RIPNG_PORT: u16 = 521;
/// ff02::9, all RIP routers (§2.5).
pub const RIPNG_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 9);

pub async fn ripngd(p: Proc, argv: Vec<String>) -> i32 {
    rip_daemon::<u128>(p, argv).await
}

fn v6(a: u128) -> Ipv6Addr {
    Ipv6Addr::from(a)
}

/// Link-local unicast (fe80::/10): the only sources of responses, and
/// never a route.
fn link_local(a: u128) -> bool {
    v6(a).is_unicast_link_local()
}

impl RipFamily for u128 {
    const DAEMON: Daemon = Daemon::Ripngd;
    const PORT: u16 = RIPNG_PORT;
    const GROUP: u128 = RIPNG_GROUP.to_bits();
    const NAME: &'static str = "RIPng";
    const VERSION: u8 = 1;
    fn state(f: &Frr) -> Option<&Rip<u128>> {
        f.ripng.as_ref()
    }
    fn state_rib(f: &mut Frr) -> (Option<&mut Rip<u128>>, &mut Rib<u128>) {
        (f.ripng.as_mut(), &mut f.rib6)
    }
    fn conf(c: &FrrConf) -> Option<&RipConf<u128>> {
        c.ripng.as_ref()
    }
    fn split_horizon(i: &IfConf) -> SplitHorizon {
        i.ripng_split_horizon
    }
    fn open_socket(p: &Proc) -> io::Result<UdpSocket> {
        let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, RIPNG_PORT));
        let s = UdpSocket::bind_with(p, any, BindOpts::reuseaddr())?;
        s.set_multicast_loop(false)?;
        // §2.5: so a receiver knows it came from the link.
        s.set_multicast_ttl(255)?;
        s.set_ttl(255)?;
        Ok(s)
    }
    /// Its global addresses a `network` covers, or all if it is named;
    /// none but a link-local address to send from, and RIPng still runs
    /// on a named interface.
    fn rip_ifaddrs(v: &Vnet, ifp: &Ifnet, rc: &RipConf<u128>) -> Option<(u128, Vec<(u128, u8)>)> {
        let local = in6_linklocal(v, ifp.index)?.to_bits();
        let named = rc.network_ifs.contains(&ifp.name);
        let addrs: Vec<(u128, u8)> = in6_ifaddrs(v, ifp.index)
            .filter(|a| a.usable() && !a.addr.is_loopback() && !is_link_local(&in6_clearscope(a.addr)))
            .map(|a| (u128::from(a.addr), a.plen))
            .filter(|&(a, _)| named || rc.networks.iter().any(|&(n, l)| (a ^ n) & u128::mask(l) == 0))
            .collect();
        (named || !addrs.is_empty()).then_some((local, addrs))
    }
    fn rip_if_pending(v: &Vnet, ifp: &Ifnet) -> bool {
        in6_ifaddrs(v, ifp.index).any(|a| !a.usable() && is_link_local(&in6_clearscope(a.addr)))
    }
    fn on_link(_: &RipIf<u128>, src: u128) -> bool {
        link_local(in6_clearscope(v6(src)).to_bits())
    }
    /// A link-local next hop not ours, in the interface's zone; else
    /// the sender.
    fn gateway(i: &RipIf<u128>, src: u128, nh: u128) -> u128 {
        let nh = in6_setscope(v6(nh), i.index).to_bits();
        if link_local(in6_clearscope(v6(nh)).to_bits()) && nh != i.local {
            nh
        } else {
            src
        }
    }
    /// Not link-local, multicast or loopback; no bits past the prefix.
    fn valid_dst(addr: u128, plen: u8) -> bool {
        plen <= 128
            && addr & !u128::mask(plen) == 0
            && !link_local(addr)
            && addr >> 120 != 0xff
            && !(addr == 1 && plen == 128)
    }
    fn parse(d: &[u8]) -> Option<RipMsg<u128>> {
        let m = RipngRepr::parse(d).ok()?;
        let whole = m.rtes.len() == 1 && m.rtes[0] == Rte::whole_table();
        let mut out = RipMsg {
            command: m.command,
            whole,
            entries: Vec::new(),
            bad: 0,
        };
        let mut nexthop = 0;
        for e in m.rtes.iter().filter(|_| !whole) {
            if e.metric == RIPNG_METRIC_NEXTHOP {
                // §2.1.1: one not link-local is taken as `::`.
                nexthop = if link_local(e.prefix) { e.prefix } else { 0 };
            } else if e.plen > 128 {
                out.bad += 1;
            } else {
                out.entries.push(Entry {
                    addr: e.prefix,
                    plen: e.plen,
                    tag: e.tag,
                    metric: u32::from(e.metric),
                    nexthop,
                });
            }
        }
        Some(out)
    }
    /// No entries: the request for the whole table. The routes are all
    /// through the sender: no next hop entries.
    fn emit(command: u8, entries: &[Entry<u128>]) -> Vec<u8> {
        let rtes = if entries.is_empty() && command == RIP_REQUEST {
            vec![Rte::whole_table()]
        } else {
            entries
                .iter()
                .map(|e| Rte {
                    prefix: e.addr,
                    tag: e.tag,
                    plen: e.plen,
                    metric: e.metric.min(16) as u8,
                })
                .collect()
        };
        RipngRepr { command, rtes }.emit()
    }
    /// §2.1: as many as fit the link's MTU after the IPv6 and UDP
    /// headers.
    fn max_entries(mtu: u32) -> usize {
        (mtu as usize).saturating_sub(40 + 8 + RIPNG_HDR_LEN) / RIPNG_RTE_LEN
    }
    fn sockaddr(a: u128, port: u16, index: u32) -> SocketAddr {
        let a = v6(a);
        let zone = in6_getscope(&a).unwrap_or(index);
        let scoped = crate::wire::ipv6::is_scoped(&a);
        SocketAddr::V6(SocketAddrV6::new(
            in6_clearscope(a),
            port,
            0,
            if scoped { zone } else { 0 },
        ))
    }
    fn from_sockaddr(a: SocketAddr) -> Option<u128> {
        match a {
            SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_none() => {
                Some(in6_setscope(*a.ip(), a.scope_id()).to_bits())
            }
            _ => None,
        }
    }
}

/// `show ipv6 ripng`, FRR's layout: the prefix on one line, then next
/// hop, interface (or `self`, `kill`), metric, tag and time left.
pub fn show_ipv6_ripng(r: &Rip<u128>, now: Time, ifname: impl Fn(u32) -> String) -> String {
    let mut s = String::from(
        "Codes: R - RIPng, C - connected, S - Static, O - OSPF, B - BGP\n\
         Sub-codes:\n      \
         (n) - normal, (s) - static, (d) - default, (r) - redistribute,\n      \
         (i) - interface, (a/S) - aggregated/Suppressed\n\n   \
         Network      Next Hop                      Via     Metric Tag Time\n",
    );
    for (&(a, l), rte) in &r.routes {
        let (c, sub) = rte.kind.codes();
        let via = match rte.kind {
            Kind::Rte => ifname(rte.ifindex),
            _ if rte.metric >= 16 => "kill".into(),
            _ => "self".into(),
        };
        let _ = std::fmt::Write::write_fmt(
            &mut s,
            format_args!(
                "{c}({sub}) {}/{l} \n{:18}{:<28}{via:<9} {:2}  {:3}  ",
                v6(a),
                "",
                rte.gateway.show(),
                rte.metric,
                rte.tag
            ),
        );
        if (rte.kind == Kind::Rte || rte.metric >= 16)
            && let Some(t) = rte.timeout.or(rte.garbage)
        {
            s += &mmss(t.saturating_sub(now));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_global_unicast_prefixes_are_routes() {
        let ok = <u128 as RipFamily>::valid_dst;
        let a = |s: &str| s.parse::<Ipv6Addr>().expect("v6").to_bits();
        assert!(ok(a("2001:db8:1::"), 64));
        assert!(ok(0, 0), "the default");
        assert!(!ok(a("2001:db8:1::1"), 64), "host bits set");
        assert!(!ok(a("fe80::"), 64), "link-local");
        assert!(!ok(a("ff02::9"), 128), "multicast");
        assert!(!ok(1, 128), "loopback");
        assert!(!ok(0, 129));
    }

    #[test]
    fn a_next_hop_entry_names_the_gateway_of_what_follows() {
        let ll = "fe80::1".parse::<Ipv6Addr>().expect("v6").to_bits();
        let m = RipngRepr {
            command: 2,
            rtes: vec![
                Rte {
                    prefix: 0x2001_0db8_0001 << 80,
                    tag: 0,
                    plen: 48,
                    metric: 1,
                },
                Rte::nexthop(ll),
                Rte {
                    prefix: 0x2001_0db8_0002 << 80,
                    tag: 7,
                    plen: 48,
                    metric: 2,
                },
                Rte {
                    prefix: 0,
                    tag: 0,
                    plen: 200,
                    metric: 1,
                },
            ],
        };
        let got = <u128 as RipFamily>::parse(&m.emit()).expect("parses");
        assert_eq!(got.bad, 1, "a prefix length past 128");
        assert_eq!(got.entries.len(), 2);
        assert_eq!((got.entries[0].nexthop, got.entries[1].nexthop), (0, ll));
        let i = RipIf {
            index: 3,
            name: "epair0a".into(),
            mtu: 1500,
            local: in6_setscope(v6(ll + 1), 3).to_bits(),
            addrs: vec![],
            passive: false,
            split_horizon: SplitHorizon::Simple,
        };
        let gw = <u128 as RipFamily>::gateway(&i, 9, ll);
        assert_eq!(in6_getscope(&v6(gw)), Some(3), "in the interface's zone");
        assert_eq!(<u128 as RipFamily>::gateway(&i, 9, ll + 1), 9, "ours is no next hop");
        assert_eq!(<u128 as RipFamily>::max_entries(1500), 72);
    }
}
