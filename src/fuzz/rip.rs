//! ripd against a forged neighbour: r (10.0.1.2, ripd on) and n
//! (10.0.1.1), whose RIP messages the rig writes from port 520, to r and
//! to 224.0.0.9. Whatever it sends, ripd keeps running, its table stays
//! within what it may hold (metrics 1 to 16, valid destinations, at most
//! the routes a message can carry times the messages sent), and the
//! kernel holds only routes ripd chose.

use std::net::SocketAddr;
use std::time::Duration;

use crate::host::Host;
use crate::socket::{BindOpts, UdpSocket};

/// The neighbour's messages go to r, and the engine runs between them.
pub struct RipRig {
    pub host: Host,
    sock: UdpSocket,
    sent: usize,
}

impl RipRig {
    pub fn new() -> RipRig {
        let (host, p) = super::daemon_rig("ripd", "router rip\n network 10.0.0.0/8\n timers basic 5 15 10\n");
        let sock =
            UdpSocket::bind_with(&p, SocketAddr::from(([10, 0, 1, 1], 520)), BindOpts::reuseaddr()).expect("bind");
        host.run_for(Duration::from_secs(1));
        RipRig { host, sock, sent: 0 }
    }

    /// Send `msg` from n:520 to r (or to the group), then let `ms` pass.
    pub fn send(&mut self, msg: &[u8], to_group: bool, ms: u16) {
        let to = if to_group { [224, 0, 0, 9] } else { [10, 0, 1, 2] };
        let _ = self.sock.set_multicast_if_v4(std::net::Ipv4Addr::new(10, 0, 1, 1));
        if self.sock.try_send_to(msg, SocketAddr::from((to, 520))).is_ok() {
            self.sent += 1;
        }
        self.host.run_for(Duration::from_millis(u64::from(ms)));
    }

    /// ripd still answers, and what it holds is within bounds.
    pub fn check(&self) -> Result<(), String> {
        let o = self.host.exec("jexec r vtysh -c 'show ip rip'");
        if !o.success() {
            return Err(format!("ripd is gone: {o:?}"));
        }
        let rows: Vec<&str> = o.stdout.lines().skip(6).collect();
        if rows.len() > 1 + self.sent * crate::wire::rip::RIP_MAX_ENTRIES {
            return Err(format!("{} routes from {} messages", rows.len(), self.sent));
        }
        for l in &rows {
            let metric: u32 = l
                .get(45..47)
                .and_then(|m| m.trim().parse().ok())
                .ok_or(format!("row {l}"))?;
            if !(1..=16).contains(&metric) {
                return Err(format!("metric {metric}: {l}"));
            }
            let net = l.get(5..).and_then(|r| r.split_whitespace().next()).unwrap_or("");
            let (a, plen) = crate::routing::conf::parse_prefix(net).ok_or(format!("prefix {net}"))?;
            if a >> 24 == 127 || a >> 28 >= 14 || (a == 0 && plen != 0) {
                return Err(format!("not a destination: {l}"));
            }
        }
        Ok(())
    }
}

impl Default for RipRig {
    fn default() -> Self {
        RipRig::new()
    }
}
