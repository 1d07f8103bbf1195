//! sockstat(1): list open sockets — who holds them (user, command, pid,
//! descriptor), the protocol and both addresses — for the vnet of the
//! caller's jail or of `-j jail`. Connected (`-c`) and listening (`-l`,
//! no foreign port, so unconnected UDP too); `-s` adds TCP states.

use clap::Parser;

use crate::errln;
use crate::kern::proc::Proc;
use crate::netinet::in_pcb::{Endpoint, Owner, Vflag};
use crate::netinet::tcp_var::TCP;
use crate::netinet::udp::UDP;

/// list open sockets (sockstat(1))
#[derive(Parser, Debug)]
#[command(name = "sockstat", disable_help_flag = true, disable_version_flag = true)]
pub struct SockstatArgs {
    /// Show AF_INET (IPv4) sockets.
    #[arg(short = '4')]
    inet4: bool,
    /// Show AF_INET6 (IPv6) sockets.
    #[arg(short = '6')]
    inet6: bool,
    /// Show connected sockets.
    #[arg(short = 'c')]
    connected: bool,
    /// Show listening sockets.
    #[arg(short = 'l')]
    listening: bool,
    /// Only sockets of this jail (id or name).
    #[arg(short = 'j', value_name = "jail")]
    jail: Option<String>,
    /// Do not resolve numeric UIDs to user names.
    #[arg(short = 'n')]
    numeric: bool,
    /// Only sockets with a local or foreign port in this list (a,b,c-d).
    #[arg(short = 'p', value_name = "ports")]
    ports: Option<String>,
    /// Only these protocols (tcp,udp).
    #[arg(short = 'P', value_name = "protocols")]
    protocols: Option<String>,
    /// Quiet: no header line.
    #[arg(short = 'q')]
    quiet: bool,
    /// Show the protocol state.
    #[arg(short = 's')]
    states: bool,
    /// Wide: room for the longest addresses.
    #[arg(short = 'w')]
    wide: bool,
}

/// One socket, as sockstat gathers it.
struct Sock {
    owner: Option<Owner>,
    proto: &'static str,
    vflag: Vflag,
    local: Endpoint,
    foreign: Endpoint,
    state: Option<&'static str>,
}

fn printaddr(e: Endpoint) -> String {
    // The address as the wire has it (a zone the stack embedded cleared).
    let a = if e.is_unspecified() {
        "*".to_string()
    } else {
        std::net::SocketAddr::from(e).ip().to_string()
    };
    if e.port == 0 {
        format!("{a}:*")
    } else {
        format!("{a}:{}", e.port)
    }
}

fn pad(s: &mut String, to: usize) {
    while s.len() < to {
        s.push(' ');
    }
}

/// A port list: `22`, `22,80`, `1000-2000`.
fn parse_ports(s: &str) -> Option<Vec<(u16, u16)>> {
    s.split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => r.parse().ok().map(|p| (p, p)),
        })
        .collect()
}

pub async fn sockstat(p: Proc, argv: Vec<String>) -> i32 {
    let a: SockstatArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let ports = match a.ports.as_deref().map(parse_ports) {
        Some(None) => {
            errln!(p, "sockstat: syntax error in port range");
            return 1;
        }
        Some(Some(v)) => Some(v),
        None => None,
    };
    let protos: Vec<String> = match &a.protocols {
        Some(l) => l.split(',').map(str::to_string).collect(),
        None => vec!["tcp".into(), "udp".into()],
    };
    if let Some(bad) = protos
        .iter()
        .find(|x| !["tcp", "udp", "sctp", "divert", "udplite"].contains(&x.as_str()))
    {
        errln!(p, "sockstat: protocol {bad} not found");
        return 1;
    }
    let jp = match &a.jail {
        None => p.clone(),
        Some(j) => match p.kernel().jail_getid(p.jid, j) {
            Ok(jid) => p.in_jail(jid),
            Err(_) => {
                errln!(p, "sockstat: jail \"{j}\" not found");
                return 1;
            }
        },
    };
    let (show_c, show_l) = if a.connected || a.listening {
        (a.connected, a.listening)
    } else {
        (true, true)
    };
    let (show_v4, show_v6) = (a.inet4 || !a.inet6, a.inet6 || !a.inet4);
    let socks = jp.vnet(|_, v| {
        let mut out = Vec::new();
        if protos.iter().any(|x| x == "tcp") {
            for tp in v.builtin(TCP).tcbs.newest_first() {
                out.push(Sock {
                    owner: tp.owner.clone(),
                    proto: "tcp",
                    vflag: tp.vflag,
                    local: tp.local,
                    foreign: tp.foreign,
                    state: Some(tp.state.name()),
                });
            }
        }
        if protos.iter().any(|x| x == "udp") {
            for u in v.builtin(UDP).pcbs.newest_first() {
                out.push(Sock {
                    owner: u.owner.clone(),
                    proto: "udp",
                    vflag: u.vflag,
                    local: u.local,
                    foreign: u.foreign,
                    state: None,
                });
            }
        }
        out
    });
    let mut socks = match socks {
        Ok(s) => s,
        Err(e) => {
            errln!(p, "sockstat: {e}");
            return 1;
        }
    };
    socks.retain(|s| {
        let listening = s.foreign.port == 0;
        let port_ok = ports.as_ref().is_none_or(|r| {
            r.iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&s.local.port) || (lo..=hi).contains(&s.foreign.port))
        });
        // A dual socket (tcp46) is one of each.
        let (v4, v6) = match s.vflag.digits(s.local) {
            "4" => (true, false),
            "6" => (false, true),
            _ => (true, true),
        };
        let fam_ok = v4 && show_v4 || v6 && show_v6;
        fam_ok && port_ok && ((listening && show_l) || (!listening && show_c))
    });
    // Files first, by process and descriptor; then sockets no file holds.
    socks.sort_by_key(|s| s.owner.as_ref().map_or((1, 0, 0), |o| (0, o.pid, o.fd)));
    let w = if a.wide { 45 } else { 21 };
    let mut out = String::new();
    if !a.quiet {
        out += &format!(
            "{:<8} {:<10} {:<5} {:<3} {:<6} {:<w$} {:<w$}",
            "USER", "COMMAND", "PID", "FD", "PROTO", "LOCAL ADDRESS", "FOREIGN ADDRESS"
        );
        if a.states {
            out += &format!(" {:<12} {:<12}", "PATH STATE", "CONN STATE");
        }
        out.push('\n');
    }
    let user = if a.numeric { "0" } else { "root" };
    for s in socks {
        let mut l = String::new();
        match &s.owner {
            Some(o) => {
                l += &format!("{user} ");
                pad(&mut l, 9);
                l += &format!("{:.10}", o.comm);
                pad(&mut l, 20);
                l += &format!("{:5} ", o.pid);
                pad(&mut l, 26);
                l += &format!("{:<3} ", o.fd);
            }
            None => l += &format!("{:<8} {:<10} {:<5} {:<2} ", "?", "?", "?", "?"),
        }
        pad(&mut l, 30);
        l += &format!("{}{} ", s.proto, s.vflag.digits(s.local));
        let mut off = 37;
        pad(&mut l, off);
        l += &printaddr(s.local);
        off += if a.wide { 46 } else { 22 };
        pad(&mut l, off);
        l += &printaddr(s.foreign);
        off += if a.wide { 46 } else { 22 };
        if a.states
            && let Some(st) = s.state
        {
            pad(&mut l, off + 13);
            l += st;
        }
        out += l.trim_end();
        out.push('\n');
    }
    p.stdout.write_bytes(out.as_bytes());
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_lists() {
        assert_eq!(super::parse_ports("22,80-90"), Some(vec![(22, 22), (80, 90)]));
        assert_eq!(super::parse_ports("x"), None);
        use crate::netinet::in_pcb::Endpoint;
        assert_eq!(super::printaddr(Endpoint::ANY4), "*:*");
        assert_eq!(super::printaddr(Endpoint::v4(0x0a00_0001, 80)), "10.0.0.1:80");
        let v6 = Endpoint::new("2001:db8::1".parse::<std::net::IpAddr>().expect("address"), 22);
        assert_eq!(super::printaddr(v6), "2001:db8::1:22");
    }
}
