//! arp(8): address resolution display and control.

use clap::Parser;

use crate::errln;
use crate::kern::proc::Proc;
use crate::net::ethernet::{ether_aton, ether_ntoa};
use crate::net::ifnet::IF;
use crate::net::route::{Inet, inet_addr};
use crate::netinet::arp::{ARP, LlState, arp_add_static, arp_delete};
use crate::netinet::in_::{in_ifaddrs, in_prefix};
use crate::vnet::Vnet;

/// address resolution display and control (arp(8))
#[derive(Parser, Debug)]
#[command(name = "arp", disable_help_flag = true, disable_version_flag = true)]
pub struct ArpArgs {
    /// All entries.
    #[arg(short = 'a')]
    all: bool,
    /// Numeric output (names are never looked up: always "?").
    #[arg(short = 'n')]
    numeric: bool,
    /// Delete the entry for hostname (with -a: all entries).
    #[arg(short = 'd')]
    delete: bool,
    /// Set a permanent entry: arp -s hostname ether_addr [temp].
    #[arg(short = 's')]
    set: bool,
    /// Only entries on this interface.
    #[arg(short = 'i', value_name = "interface")]
    iface: Option<String>,
    #[arg(value_name = "hostname [ether_addr] [temp]")]
    args: Vec<String>,
}

fn usage(p: &Proc) -> i32 {
    for l in [
        "usage: arp [-n] [-i interface] hostname",
        "       arp [-n] [-i interface] -a",
        "       arp -d hostname [pub]",
        "       arp -d [-i interface] -a",
        "       arp -s hostname ether_addr [temp] [reject | blackhole] [pub [only]]",
    ] {
        errln!(p, "{l}");
    }
    1
}

/// The entries as arp(8) prints them, own addresses included (they are
/// permanent), sorted by interface and address.
fn entries(v: &mut Vnet, now: crate::kern::clock::Time, iface: Option<u32>, host: Option<u32>) -> Vec<String> {
    let v = &*v;
    let ifs = v.get(IF).map_or(&[][..], |l| &l.list[..]);
    let mut rows: Vec<(u32, u32, String)> = Vec::new();
    let names: Vec<(u32, String)> = ifs.iter().map(|i| (i.index, i.name.clone())).collect();
    let name = |i: u32| {
        names
            .iter()
            .find(|(x, _)| *x == i)
            .map_or(String::new(), |(_, n)| n.clone())
    };
    for i in ifs.iter().filter(|i| !i.is_loopback()) {
        for ia in in_ifaddrs(v, i.index) {
            rows.push((
                i.index,
                ia.addr,
                format!(
                    "? ({}) at {} on {} permanent [ethernet]",
                    Inet(ia.addr),
                    ether_ntoa(&i.lladdr),
                    i.name
                ),
            ));
        }
    }
    let Some(arp) = v.get(ARP) else { return Vec::new() };
    for (&(index, ip), e) in &arp.table {
        let at = match e.state {
            LlState::Reachable | LlState::Static => ether_ntoa(&e.mac),
            _ => "(incomplete)".into(),
        };
        let when = match e.state {
            LlState::Static => " permanent".to_string(),
            LlState::Reachable if e.expire > now => {
                // In whole seconds of uptime, as time_uptime counts.
                let secs = e.expire.as_duration().as_secs() - now.as_duration().as_secs();
                format!(" expires in {secs} seconds")
            }
            _ => " expired".to_string(),
        };
        rows.push((
            index,
            ip,
            format!("? ({}) at {at} on {}{when} [ethernet]", Inet(ip), name(index)),
        ));
    }
    rows.sort_by_key(|r| (r.0, r.1));
    rows.into_iter()
        .filter(|r| iface.is_none_or(|i| i == r.0) && host.is_none_or(|h| h == r.1))
        .map(|r| r.2)
        .collect()
}

pub async fn arp(p: Proc, argv: Vec<String>) -> i32 {
    let a: ArpArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let now = p.now();
    let r = p.vnet(|k, v| -> Result<(String, String, i32), String> {
        let iface = match &a.iface {
            Some(n) => Some(
                v.builtin(IF)
                    .by_name(n)
                    .map(|i| i.index)
                    .ok_or(format!("interface {n} does not exist"))?,
            ),
            None => None,
        };
        let host = a
            .args
            .first()
            .map(|h| inet_addr(h).ok_or(format!("{h}: Unknown host")))
            .transpose()?;
        match (a.set, a.delete, a.all, host) {
            (true, false, false, Some(ip)) => {
                let mac = a.args.get(1).ok_or("invalid Ethernet address ''".to_string())?;
                let mac = ether_aton(mac).ok_or(format!("invalid Ethernet address '{mac}'"))?;
                let on = v
                    .get(IF)
                    .map_or(&[][..], |l| &l.list[..])
                    .iter()
                    .find(|i| in_ifaddrs(v, i.index).any(|ia| in_prefix(ip, ia.addr, ia.plen)))
                    .map(|i| i.index);
                match on {
                    Some(i) => arp_add_static(k, v, i, ip, mac),
                    None => return Ok((String::new(), format!("arp: delete: cannot locate {}\n", a.args[0]), 0)),
                }
                Ok((String::new(), String::new(), 0))
            }
            (false, true, true, _) => {
                let ips: Vec<u32> = v.builtin(ARP).table.keys().map(|k| k.1).collect();
                let mut out = String::new();
                for ip in ips {
                    arp_delete(k, v, ip);
                    out += &format!("{} ({}) deleted\n", Inet(ip), Inet(ip));
                }
                Ok((out, String::new(), 0))
            }
            (false, true, false, Some(ip)) => {
                if arp_delete(k, v, ip) > 0 {
                    Ok((format!("{} ({}) deleted\n", a.args[0], Inet(ip)), String::new(), 0))
                } else {
                    Ok((
                        String::new(),
                        format!("arp: delete {}: No such file or directory\n", a.args[0]),
                        1,
                    ))
                }
            }
            (false, false, true, None) => {
                let rows = entries(v, now, iface, None);
                Ok((rows.iter().map(|r| format!("{r}\n")).collect(), String::new(), 0))
            }
            (false, false, false, Some(ip)) => {
                let rows = entries(v, now, iface, Some(ip));
                if rows.is_empty() {
                    return Ok((format!("{} ({}) -- no entry\n", a.args[0], Inet(ip)), String::new(), 1));
                }
                Ok((rows.iter().map(|r| format!("{r}\n")).collect(), String::new(), 0))
            }
            _ => Ok((String::new(), String::new(), -1)),
        }
    });
    match r {
        Ok(Ok((_, _, -1))) => usage(&p),
        Ok(Ok((out, err, st))) => {
            p.stdout.write_bytes(out.as_bytes());
            p.stderr.write_bytes(err.as_bytes());
            st
        }
        Ok(Err(e)) | Err(e) => {
            errln!(p, "arp: {e}");
            1
        }
    }
}
