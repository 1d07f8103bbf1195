//! ripngd against a forged neighbour: r (2001:db8:1::2, ripngd on) and
//! n (2001:db8:1::1), whose RIPng messages the rig writes from its
//! link-local address and port 521, to r's link-local address and to
//! ff02::9. Whatever it sends, ripngd keeps running, its table stays
//! within what it may hold (metrics 1 to 16, no link-local, multicast or
//! loopback prefixes, at most the routes a message can carry times the
//! messages sent), and the kernel holds only routes through n or another
//! link-local address on the link n named (RFC 2080 §2.1.1), never r's.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use crate::host::Host;
use crate::socket::{BindOpts, UdpSocket};

/// The neighbour's messages go to r, and the engine runs between them.
pub struct RipngRig {
    pub host: Host,
    sock: UdpSocket,
    /// r's link-local address and n's, and epair0b's index in n.
    r: Ipv6Addr,
    n: Ipv6Addr,
    index: u32,
    sent: usize,
}

/// A jail's link-local address on an interface.
fn linklocal(host: &Host, jail: &str, ifname: &str) -> Ipv6Addr {
    let out = host.exec(&format!("jexec {jail} ifconfig {ifname}")).stdout;
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('%').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or(Ipv6Addr::UNSPECIFIED)
}

impl RipngRig {
    pub fn new() -> RipngRig {
        let (host, p) = super::daemon_rig(
            "ripngd",
            "router ripng\n network 2001:db8::/32\n timers basic 5 15 10\n",
        );
        for l in [
            "jexec r ifconfig epair0a inet6 2001:db8:1::2/64",
            "jexec n ifconfig epair0b inet6 2001:db8:1::1/64",
        ] {
            let o = host.exec(l);
            assert!(o.success(), "{l}: {o:?}");
        }
        host.run_for(Duration::from_secs(3));
        let sock = UdpSocket::bind_with(
            &p,
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 521)),
            BindOpts::reuseaddr(),
        )
        .expect("bind");
        let index = p
            .vnet(|_, v| {
                v.get(crate::net::ifnet::IF)
                    .and_then(|l| l.by_name("epair0b"))
                    .map(|i| i.index)
            })
            .ok()
            .flatten()
            .unwrap_or(0);
        let (r, n) = (linklocal(&host, "r", "epair0a"), linklocal(&host, "n", "epair0b"));
        RipngRig {
            host,
            sock,
            r,
            n,
            index,
            sent: 0,
        }
    }

    /// Send `msg` from n:521 to r (or to the group), then let `ms` pass.
    pub fn send(&mut self, msg: &[u8], to_group: bool, ms: u16) {
        let to = if to_group {
            "ff02::9".parse().unwrap_or(self.r)
        } else {
            self.r
        };
        let _ = self.sock.set_multicast_if(self.index);
        if self
            .sock
            .try_send_to(msg, SocketAddr::V6(SocketAddrV6::new(to, 521, 0, self.index)))
            .is_ok()
        {
            self.sent += 1;
        }
        self.host.run_for(Duration::from_millis(u64::from(ms)));
    }

    /// ripngd still answers, and what it holds is within bounds.
    pub fn check(&self) -> Result<(), String> {
        let o = self.host.exec("jexec r vtysh -c 'show ipv6 ripng'");
        if !o.success() {
            return Err(format!("ripngd is gone: {o:?}"));
        }
        let rows: Vec<&str> = o.stdout.lines().skip(6).collect();
        let per = <u128 as crate::routing::ripd::RipFamily>::max_entries(1500);
        if rows.len() / 2 > 1 + self.sent * per {
            return Err(format!("{} routes from {} messages", rows.len() / 2, self.sent));
        }
        for pair in rows.chunks(2) {
            let [head, next] = pair else {
                return Err(format!("a route of one line: {pair:?}"));
            };
            let net = head.get(5..).and_then(|r| r.split_whitespace().next()).unwrap_or("");
            let (a, plen) = crate::routing::conf::parse_prefix_of::<u128>(net).ok_or(format!("prefix {net}"))?;
            if a >> 118 == 0x3fa || a >> 120 == 0xff || (a == 1 && plen == 128) {
                return Err(format!("not a destination: {head}"));
            }
            let metric: u32 = next
                .get(56..58)
                .and_then(|m| m.trim().parse().ok())
                .ok_or(format!("row {next}"))?;
            if !(1..=16).contains(&metric) {
                return Err(format!("metric {metric}: {head}{next}"));
            }
        }
        let rib = self.host.exec("jexec r netstat -rn -f inet6").stdout;
        let r = format!("{}%epair0a", self.r);
        for l in rib.lines().filter(|l| l.contains("UG")) {
            let gw = l.split_whitespace().nth(1).unwrap_or("");
            if !(gw.starts_with("fe") && gw.ends_with("%epair0a")) || gw == r {
                return Err(format!(
                    "a route not through a neighbour on the link (n is {}): {l}",
                    self.n
                ));
            }
        }
        Ok(())
    }
}

impl Default for RipngRig {
    fn default() -> Self {
        RipngRig::new()
    }
}
