//! Rigs for robustness testing, used by the property tests and the
//! cargo-fuzz targets. [`Rig`]: a router vnet with several interfaces (two
//! epairs to hosts, one bridge member) and forwarding on, into which
//! arbitrary frames are fed (fuzz/fuzz_targets/frames.rs). [`tcp::TcpRig`]:
//! a listening and an established TCP connection that a forged peer
//! drives with adversarial segments (fuzz/fuzz_targets/tcp.rs).
//! [`rip::RipRig`]: ripd and a forged neighbour (fuzz/fuzz_targets/rip.rs),
//! [`ripng::RipngRig`] ripngd's (fuzz/fuzz_targets/ripng.rs);
//! [`ospf::OspfRig`] the same for ospfd (fuzz/fuzz_targets/ospf.rs);
//! [`bgp::BgpRig`] a hostile BGP neighbor's session (fuzz/fuzz_targets/bgp.rs).

pub mod bgp;
pub mod ospf;
pub mod rip;
pub mod ripng;
pub mod tcp;

/// The messages in a fuzz input for a daemon's rig: each [flags][len:
/// u8][len bytes], flags bit 0 "to the group", the rest the
/// milliseconds to wait after it (times 16).
pub fn messages(data: &[u8]) -> Vec<(&[u8], bool, u16)> {
    let mut out = Vec::new();
    let mut rest = data;
    while let [flags, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        out.push((&tail[..n], flags & 1 == 1, u16::from(flags >> 1) * 16));
        rest = &tail[n..];
    }
    out
}

/// Jails r (10.0.1.2, forwarding) and n (10.0.1.1) on one epair, a
/// routing daemon in r started with configuration `conf`
/// (`daemon` names it); a process in n to forge its neighbour's
/// packets from.
fn daemon_rig(daemon: &str, conf: &str) -> (Host, crate::kern::proc::Proc) {
    let host = Host::new(Default::default());
    for l in DAEMON_RIG.lines() {
        let o = host.exec(l);
        assert!(o.success(), "{l}: {o:?}");
    }
    // One directory per rig: rigs on parallel test threads must not
    // write over each other's configuration while a daemon reads it.
    static RIGS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RIGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vimage-{daemon}-rig-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let f = dir.join("frr.conf");
    let _ = std::fs::write(&f, conf);
    let o = host.exec(&format!("jexec r {daemon} -d -f {}", f.display()));
    assert!(o.success(), "{o:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let jid = host.kernel().jail_getid(Jid::HOST, "n").expect("jail n");
    let p = host.proc(jid, crate::kern::proc::Stdio::null_all());
    (host, p)
}

/// The daemon rig's kernel holds only routes through n (10.0.1.1) to
/// real destinations: not loopback, 0/8, multicast or class E.
fn routes_through_n(host: &Host) -> Result<(), String> {
    let rib = host.exec("jexec r netstat -rn -f inet").stdout;
    for l in rib.lines().filter(|l| l.contains("UG")) {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.get(1) != Some(&"10.0.1.1") {
            return Err(format!("a route not through n: {l}"));
        }
        let dst = w[0].split('/').next().unwrap_or("");
        if dst == "default" {
            continue;
        }
        let a: std::net::Ipv4Addr = dst.parse().map_err(|_| format!("destination {l}"))?;
        if a.is_loopback() || a.is_multicast() || u32::from(a) >> 28 == 15 || u32::from(a) >> 24 == 0 {
            return Err(format!("not a destination: {l}"));
        }
    }
    Ok(())
}

const DAEMON_RIG: &str = "jail -c name=r vnet persist
jail -c name=n vnet persist
ifconfig epair0 create
ifconfig epair0a vnet r
ifconfig epair0b vnet n
jexec r sysctl net.inet.ip.forwarding=1
jexec r ifconfig epair0a inet 10.0.1.2/24
jexec n ifconfig epair0b inet 10.0.1.1/24";

use std::time::Duration;

use crate::host::Host;
use crate::kern::jail::Jid;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::{IF, netisr_queue};
use crate::netinet::arp::ARP;
use crate::netinet::ip::{IP, IP_MF, Ipv4Hdr};
use crate::netinet6::ip6::IP6;
use crate::netinet6::nd6::ND6;
use std::net::Ipv6Addr;

/// The router and its ports, and host a's interface (a takes router
/// advertisements).
pub struct Rig {
    pub host: Host,
    /// Each port's index and MAC address.
    ports: Vec<(u32, [u8; 6])>,
    host_port: (u32, [u8; 6]),
}

const SETUP: &str = "jail -c name=r vnet persist
jail -c name=a vnet persist
jail -c name=b vnet persist
ifconfig epair0 create
ifconfig epair1 create
ifconfig epair2 create
ifconfig epair0a vnet r
ifconfig epair0b vnet a
ifconfig epair1a vnet r
ifconfig epair1b vnet b
ifconfig epair2a vnet r
jexec r ifconfig epair0a inet 10.0.0.1/24 up
jexec r ifconfig epair1a inet 10.0.1.1/24 up
jexec r ifconfig bridge0 create
jexec r ifconfig bridge0 addm epair2a up
jexec r ifconfig epair2a up
jexec r ifconfig bridge0 inet 10.0.2.1/24
jexec a ifconfig epair0b inet 10.0.0.2/24 up
jexec b ifconfig epair1b inet 10.0.1.2/24 up
jexec a route add default 10.0.0.1
jexec b route add default 10.0.1.1
jexec r sysctl net.inet.ip.forwarding=1
jexec r sysctl net.inet.ip.maxfragpackets=64
jexec r sysctl net.link.ether.inet.max_entries=64
jexec r ifconfig epair0a inet6 2001:db8::1/64 no_dad
jexec r ifconfig epair1a inet6 2001:db8:1::1/64 no_dad
jexec a ifconfig epair0b inet6 2001:db8::2/64 no_dad
jexec b ifconfig epair1b inet6 2001:db8:1::2/64 no_dad
jexec a route -6 add default 2001:db8::1
jexec b route -6 add default 2001:db8:1::1
jexec r sysctl net.inet6.ip6.forwarding=1
jexec r sysctl net.inet6.ip6.maxfragpackets=64
jexec r sysctl net.inet6.icmp6.nd6_maxentries=64
jexec a ifconfig epair0b inet6 accept_rtadv
jexec a sysctl net.inet.tcp.hostcache.cachelimit=64
jexec a sysctl net.inet6.icmp6.nd6_maxentries=64";

impl Default for Rig {
    fn default() -> Self {
        Rig::new()
    }
}

impl Rig {
    /// Frames `mutate` can start from: ARP and IPv4 (0-4), IPv6 (5-9).
    pub const TEMPLATES: usize = 10;

    /// The destination MAC that [`Rig::feed`] makes the port's own.
    pub const ROUTER: [u8; 6] = [0x02, 0, 0, 0, 0, 0];

    pub fn new() -> Rig {
        let host = Host::new(Default::default());
        for l in SETUP.lines() {
            let o = host.exec(l);
            assert!(o.success(), "rig setup: {l}: {o:?}");
        }
        let indexes = |jail: &str, names: &[&str]| -> Vec<(u32, [u8; 6])> {
            let mut k = host.kernel();
            let v = k
                .jail_getid(Jid::HOST, jail)
                .and_then(|j| k.prison_vnet(j))
                .expect("jail");
            let ifs = k.vnet(v).expect("vnet").builtin(IF);
            names
                .iter()
                .filter_map(|n| ifs.by_name(n).map(|i| (i.index, i.lladdr)))
                .collect()
        };
        let ports = indexes("r", &["epair0a", "epair1a", "epair2a"]);
        let host_port = indexes("a", &["epair0b"])[0];
        Rig { host, ports, host_port }
    }

    /// Deliver a frame to host a (as if from the router's link).
    pub fn feed_host(&self, frame: &[u8]) {
        netisr_queue(&mut self.host.kernel(), self.host_port.0, Mbuf::from_slice(frame));
        self.host.run_for(Duration::from_millis(10));
    }

    /// A router advertisement from fe80::`router` with on-link,
    /// autonomous prefix 2001:db8:`prefix`::/64.
    pub fn router_advert(router: u16, prefix: u16) -> Vec<u8> {
        use crate::wire::icmpv6::{ND_OPT_PI_FLAG_AUTO, ND_OPT_PI_FLAG_ONLINK, PrefixInfo, RaHdr, ra_emit};
        let s = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, router);
        let d = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        let ra = RaHdr {
            cur_hop_limit: 64,
            flags: 0,
            router_lifetime: 1800,
            reachable: 0,
            retrans: 0,
        };
        let pi = PrefixInfo {
            plen: 64,
            flags: ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO,
            valid: 86400,
            preferred: 14400,
            prefix: Ipv6Addr::new(0x2001, 0xdb8, prefix, 0, 0, 0, 0, 0),
        };
        let b = Rig::icmp6(
            &s,
            &d,
            ra_emit(&ra, Some([0x02, 0xfe, 0, 1, 0, router as u8]), None, &[pi]),
        );
        Rig::ether([0x33, 0x33, 0, 0, 0, 1], 0x86dd, &Rig::ip6(58, &s, &d, &b))
    }

    /// An echo request to the router behind a chain of extension headers,
    /// each `(kind, units, option)`: kind 0 hop-by-hop, 1 destination
    /// options (a PadN, or option type `option` if not 0), 2 routing
    /// (type `option` % 5, segments left 0), 3 an atomic fragment, others
    /// a destination options header; `units` more 8-byte units each.
    pub fn echo6_through(chain: &[(u8, u8, u8)]) -> Vec<u8> {
        let (s, d) = (Rig::in6(0x2), Rig::in6(0x1));
        let mut echo = vec![0x80, 0, 0, 0, 0, 7, 0, 1];
        echo.extend_from_slice(b"chain!!!");
        let mut body = Rig::icmp6(&s, &d, echo);
        let mut next = 58u8;
        for &(kind, units, option) in chain.iter().rev() {
            let len = 8 + 8 * units as usize;
            let mut h = vec![0u8; len];
            h[0] = next;
            h[1] = units;
            next = match kind % 4 {
                2 => {
                    h[2] = option % 5;
                    43
                }
                3 => {
                    h.truncate(8);
                    h[1] = 0;
                    h[4..8].copy_from_slice(&(option as u32).to_be_bytes());
                    44
                }
                k => {
                    // One option filling the header: PadN or `option`.
                    h[2] = if option == 0 { 1 } else { option };
                    h[3] = (len - 4) as u8;
                    if k == 0 { 0 } else { 60 }
                }
            };
            h.extend_from_slice(&body);
            body = h;
        }
        Rig::ether(Rig::ROUTER, 0x86dd, &Rig::ip6(next, &s, &d, &body))
    }

    /// A "packet too big" (MTU 1280) to host a about a datagram it sent
    /// to 2001:db8:f::`low` (forged: a never sent it).
    pub fn too_big(&self, low: u16) -> Vec<u8> {
        let (r, a) = (Rig::in6(0x1), Rig::in6(0x2));
        let far = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, low);
        let quoted = Rig::ip6(17, &a, &far, &[0u8; 1400]);
        let mut m = vec![2, 0, 0, 0, 0, 0, 5, 0];
        m.extend_from_slice(&quoted[..1232]);
        let b = Rig::icmp6(&r, &a, m);
        Rig::ether(self.host_port.1, 0x86dd, &Rig::ip6(58, &r, &a, &b))
    }

    /// A redirect to host a from fe80::`router`: 2001:db8:f::`low` is
    /// better reached through fe80::99 (whose MAC it gives).
    pub fn redirect(&self, router: u16, low: u16) -> Vec<u8> {
        let (r, a) = (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, router), Rig::in6(0x2));
        let far = Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, low);
        let t = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
        let quoted = Rig::ip6(17, &a, &far, &[0u8; 8]);
        let m = crate::wire::icmpv6::redirect_emit(&t, &far, Some([0x02, 0xfe, 0, 0, 0, 0x99]), &quoted);
        let b = Rig::icmp6(&r, &a, m);
        Rig::ether(self.host_port.1, 0x86dd, &Rig::ip6(58, &r, &a, &b))
    }

    /// Deliver a frame to port `port` (mod the number of ports) and let the
    /// network run for a while. A frame to [`Rig::ROUTER`] is addressed
    /// to that port's own MAC.
    pub fn feed(&self, port: u8, frame: &[u8]) {
        let (index, mac) = self.ports[port as usize % self.ports.len()];
        let mut m = Mbuf::from_slice(frame);
        if frame.starts_with(&Rig::ROUTER) {
            m.data_mut()[..6].copy_from_slice(&mac);
        }
        netisr_queue(&mut self.host.kernel(), index, m);
        self.host.run_for(Duration::from_millis(10));
    }

    /// Template `t` with byte flips (`(offset, xor)`), cut to `cut` bytes
    /// (when shorter).
    pub fn mutate(t: usize, flips: &[(u16, u8)], cut: u16) -> Vec<u8> {
        let mut f = Rig::template(t);
        for &(at, x) in flips {
            if !f.is_empty() {
                let n = at as usize % f.len();
                f[n] ^= x;
            }
        }
        if (cut as usize) < f.len() && cut.is_multiple_of(3) {
            f.truncate(cut as usize);
        }
        f
    }

    fn ether(dst: [u8; 6], etype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend_from_slice(&[0x02, 0xfe, 0, 0, 0, 2]);
        f.extend_from_slice(&etype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn template(t: usize) -> Vec<u8> {
        let bcast = [0xff; 6];
        match t % Rig::TEMPLATES {
            0 => {
                // ARP who-has 10.0.0.1 tell 10.0.0.2
                let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0xfe, 0, 0, 0, 2, 10, 0, 0, 2];
                a.extend_from_slice(&[0; 6]);
                a.extend_from_slice(&[10, 0, 0, 1]);
                Rig::ether(bcast, 0x0806, &a)
            }
            1 => Rig::ether(bcast, 0x0800, &Rig::ip(1, 0x0a00_0101, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0])),
            2 => Rig::ether(
                bcast,
                0x0800,
                &Rig::ip(17, 0x0a00_0102, &[0, 7, 0, 9, 0, 12, 0, 0, 1, 2, 3, 4]),
            ),
            3 => Rig::fragment(1)[..].to_vec(),
            5 => Rig::solicit(0x2),
            6 => {
                // An echo request with a hop-by-hop header holding an
                // unknown option (type 0x3e: skip it) and PadN.
                let mut e = vec![0x80, 0, 0, 0, 0, 1, 0, 1];
                e.extend_from_slice(b"vimage!!");
                let (s, d) = (Rig::in6(0x2), Rig::in6(0x1));
                let mut b = Rig::icmp6(&s, &d, e);
                b.splice(0..0, [58, 0, 0x3e, 2, 0, 0, 1, 0]);
                Rig::ether(Rig::ROUTER, 0x86dd, &Rig::ip6(0, &s, &d, &b))
            }
            7 => Rig::fragment6(1),
            8 => {
                // A neighbour advertisement with a target link-layer
                // address and an unknown option.
                let t = Rig::in6(0x2);
                let mut na = crate::wire::icmpv6::nd_emit(136, 0x20, &t, Some([0x02, 0xfe, 0, 0, 0, 2]));
                na.extend_from_slice(&[200, 1, 0, 0, 0, 0, 0, 0]);
                let d = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
                let b = Rig::icmp6(&t, &d, na);
                Rig::ether([0x33, 0x33, 0, 0, 0, 1], 0x86dd, &Rig::ip6(58, &t, &d, &b))
            }
            9 => {
                // UDP through the router, to b.
                let (s, d) = (Rig::in6(0x2), Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2));
                let mut u = vec![0, 7, 0, 9, 0, 12, 0, 0, 1, 2, 3, 4];
                crate::wire::udp::Packet::new_unchecked(&mut u[..]).fill_checksum(s.into(), d.into());
                Rig::ether(Rig::ROUTER, 0x86dd, &Rig::ip6(17, &s, &d, &u))
            }
            _ => {
                // With IP options (a record route).
                let mut p = Rig::ip(1, 0x0a00_0102, &[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
                p.splice(20..20, [7, 7, 4, 0, 0, 0, 0, 1]);
                p[0] = 0x47;
                let len = p.len() as u16;
                p[2..4].copy_from_slice(&len.to_be_bytes());
                Rig::ether(bcast, 0x0800, &p)
            }
        }
    }

    fn ip(p: u8, dst: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 20];
        Ipv4Hdr::new(0x0a00_0002, dst, p, 64, 9, (20 + payload.len()) as u16).write(&mut b);
        b.extend_from_slice(payload);
        b
    }

    /// 2001:db8::`low`, on the router's first link.
    fn in6(low: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, low)
    }

    /// An IPv6 datagram (hop limit 255, as neighbour discovery wants).
    fn ip6(nxt: u8, src: &Ipv6Addr, dst: &Ipv6Addr, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 40];
        crate::wire::ipv6::Ipv6Repr {
            src: *src,
            dst: *dst,
            next_header: nxt,
            payload_len: payload.len() as u16,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut b);
        b.extend_from_slice(payload);
        b
    }

    /// An ICMPv6 message with its checksum.
    fn icmp6(src: &Ipv6Addr, dst: &Ipv6Addr, mut msg: Vec<u8>) -> Vec<u8> {
        crate::wire::icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(src, dst);
        msg
    }

    /// A neighbour solicitation for the router from 2001:db8::`low`.
    pub fn solicit(low: u16) -> Vec<u8> {
        let (s, t) = (Rig::in6(low), Rig::in6(0x1));
        let d = crate::wire::ipv6::solicited_node(&t);
        let ns = crate::wire::icmpv6::nd_emit(135, 0, &t, Some([0x02, 0xfe, 0, 0, (low >> 8) as u8, low as u8]));
        let b = Rig::icmp6(&s, &d, ns);
        Rig::ether(crate::wire::ipv6::multicast_mac(&d), 0x86dd, &Rig::ip6(58, &s, &d, &b))
    }

    /// An ARP request for the router from 10.0.0.`low`/made-up senders
    /// (10.0.X.Y with `low` = X*256+Y, on the router's first link).
    pub fn arp_who_has(low: u16) -> Vec<u8> {
        let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0xfe, 0, 0, (low >> 8) as u8, low as u8];
        a.extend_from_slice(&[10, 0, 0, (low % 250) as u8 + 3]);
        a.extend_from_slice(&[0; 6]);
        a.extend_from_slice(&[10, 0, 0, 1]);
        Rig::ether([0xff; 6], 0x0806, &a)
    }

    /// A first IPv6 fragment of datagram `id` (never completed).
    pub fn fragment6(id: u32) -> Vec<u8> {
        let mut f = vec![0u8; 8];
        crate::wire::ipv6::FragHdr {
            next_header: 17,
            offset: 0,
            more: true,
            ident: id,
        }
        .emit(&mut f);
        f.extend_from_slice(&[0u8; 16]);
        let (s, d) = (Rig::in6(0x2), Rig::in6(0x1));
        Rig::ether(Rig::ROUTER, 0x86dd, &Rig::ip6(44, &s, &d, &f))
    }

    /// A first fragment of datagram `id` (never completed).
    pub fn fragment(id: u16) -> Vec<u8> {
        let mut b = vec![0u8; 28];
        let mut h = Ipv4Hdr::new(0x0a00_0002, 0x0a00_0001, 17, 64, id, 28);
        h.off = IP_MF;
        h.write(&mut b);
        Rig::ether([0xff; 6], 0x0800, &b)
    }

    /// The invariants: the router still routes, and its state is bounded.
    pub fn check(&self) {
        let mut k = self.host.kernel();
        let v = k
            .jail_getid(Jid::HOST, "r")
            .and_then(|j| k.prison_vnet(j))
            .expect("router");
        let vn = k.vnet(v).expect("vnet");
        let reass = vn.builtin(IP).reass.len();
        assert!(reass <= 64, "reassembly queues: {reass}");
        let arp = vn.builtin(ARP).table.len();
        assert!(arp <= 64, "ARP entries: {arp}");
        for e in vn.builtin(ARP).table.values() {
            assert!(e.hold.len() <= 16);
        }
        let ip6 = vn.builtin(IP6);
        let (q6, f6) = (ip6.frag.len(), ip6.frag.frags());
        assert!(
            q6 <= 64 && f6 <= 4096,
            "IPv6 reassembly: {q6} datagrams, {f6} fragments"
        );
        let nd = &vn.builtin(ND6).table;
        assert!(nd.len() <= 64, "neighbour cache: {}", nd.len());
        assert!(nd.values().all(|e| e.hold.len() <= 16));
        // Host a: what advertisements and errors taught it is bounded.
        let v = k.jail_getid(Jid::HOST, "a").and_then(|j| k.prison_vnet(j)).expect("a");
        let vn = k.vnet(v).expect("vnet");
        let hc = vn.builtin(crate::netinet::tcp_var::TCP).hostcache.count();
        assert!(hc <= 64, "host cache: {hc}");
        if let Some(auto) = vn.builtin(ND6).auto.as_ref() {
            let (r, p) = (auto.routers.len(), auto.prefixes.len());
            assert!(r <= 16 && p <= 16, "{r} default routers, {p} prefixes");
            assert!(auto.redirects.len() <= 64, "redirects: {}", auto.redirects.len());
        }
        let addrs = vn.builtin(IP6).ifaddrs.len();
        assert!(addrs <= 20, "IPv6 addresses: {addrs}");
        drop(k);
        // A forged advertisement may have misled the router about a's MAC
        // (as one can on a real link): neighbour unreachability detection
        // finds out within DELAY and PROBE, so a few seconds may pass.
        let o = self.host.exec("jexec a ping6 -o -c 12 2001:db8:1::2");
        assert!(
            o.stdout.contains("1 packets received"),
            "the router still routes IPv6: {o:?}"
        );
        let o = self.host.exec("jexec a ping -c 1 -t 2 10.0.1.2");
        assert!(
            o.stdout.contains("1 packets received"),
            "the router still routes: {o:?}"
        );
    }
}
