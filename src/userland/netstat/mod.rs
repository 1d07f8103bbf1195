//! netstat(1): show network status — the sockets (default, `-a`), the
//! routing table (`-r`), the interfaces (`-i`) and protocol statistics
//! (`-s [-p ip|icmp|arp|tcp|udp]`). The files follow FreeBSD's
//! `usr.bin/netstat`: `inet.c`, `route.c`, `if.c`.

mod if_;
mod inet;
mod route;

use clap::Parser;

pub use route::netname;

use crate::errln;
use crate::kern::proc::Proc;

/// show network status (netstat(1))
#[derive(Parser, Debug)]
#[command(name = "netstat", disable_help_flag = true, disable_version_flag = true)]
pub struct NetstatArgs {
    /// Show the routing tables.
    #[arg(short = 'r')]
    routes: bool,
    /// Show the state of the interfaces.
    #[arg(short = 'i')]
    interfaces: bool,
    /// Show per-protocol statistics (twice: only non-zero counters).
    #[arg(short = 's', action = clap::ArgAction::Count)]
    stats: u8,
    /// Numeric addresses (they always are).
    #[arg(short = 'n')]
    numeric: bool,
    /// Show all sockets, including servers.
    #[arg(short = 'a')]
    all: bool,
    /// Wide output: never truncate.
    #[arg(short = 'W')]
    wide: bool,
    /// Only this protocol: ip, icmp, arp, tcp, udp.
    #[arg(short = 'p', value_name = "protocol")]
    proto: Option<String>,
    /// Only this address family: inet.
    #[arg(short = 'f', value_name = "address_family")]
    family: Option<String>,
    /// Only IPv4 (the only family there is).
    #[arg(short = '4')]
    inet4: bool,
}

pub async fn netstat(p: Proc, argv: Vec<String>) -> i32 {
    let a: NetstatArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    if let Some(f) = &a.family
        && f != "inet"
    {
        errln!(p, "netstat: {f}: unknown address family");
        return 1;
    }
    let r = p.vnet(|_, v| {
        if a.routes {
            Ok(route::routes(v))
        } else if a.interfaces {
            Ok(if_::interfaces(v))
        } else if a.stats > 0 {
            inet::stats(v, a.proto.as_deref(), a.stats > 1)
        } else {
            inet::protopr(v, a.proto.as_deref(), a.all, a.wide)
        }
    });
    match r {
        Ok(Ok(s)) => {
            p.stdout.write_bytes(s.as_bytes());
            0
        }
        Ok(Err(e)) | Err(e) => {
            errln!(p, "netstat: {e}");
            1
        }
    }
}
