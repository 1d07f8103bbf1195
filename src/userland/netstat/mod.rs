//! netstat(1): show network status — the sockets (default, `-a`), the
//! routing table (`-r`), the interfaces (`-i`) and protocol statistics
//! (`-s [-p ip|icmp|arp|tcp|udp]`), the listen queues (`-L`) and the
//! traffic every few seconds (`-w N`). The files follow FreeBSD's
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
    /// Only this interface (-i, -w).
    #[arg(short = 'I', value_name = "interface")]
    interface: Option<String>,
    /// With -i: the bytes in and out.
    #[arg(short = 'b')]
    bytes: bool,
    /// With -i or -w: the output drops.
    #[arg(short = 'd')]
    drops: bool,
    /// The listen queues: completed, incomplete and most connections.
    #[arg(short = 'L')]
    listen: bool,
    /// The traffic every wait seconds.
    #[arg(short = 'w', value_name = "wait")]
    wait: Option<u64>,
    /// With -w: stop after howmany lines.
    #[arg(short = 'q', value_name = "howmany")]
    howmany: Option<u64>,
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
    /// Only this address family: inet, inet6.
    #[arg(short = 'f', value_name = "address_family")]
    family: Option<String>,
    /// Only IPv4.
    #[arg(short = '4')]
    inet4: bool,
    /// Only IPv6.
    #[arg(short = '6')]
    inet6: bool,
}

pub async fn netstat(p: Proc, argv: Vec<String>) -> i32 {
    let a: NetstatArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    if let Some(f) = &a.family
        && f != "inet"
        && f != "inet6"
    {
        errln!(p, "netstat: {f}: unknown address family");
        return 1;
    }
    if let Some(w) = a.wait {
        return interval(&p, &a, w).await;
    }
    let io = if_::IfOpts {
        bytes: a.bytes,
        drops: a.drops,
        only: a.interface.as_deref(),
    };
    let r = p.vnet(|_, v| {
        if a.routes {
            let f = a.family.as_deref();
            let only4 = a.inet4 || f == Some("inet");
            let only6 = a.inet6 || f == Some("inet6");
            Ok(route::routes(v, !only6, !only4))
        } else if a.interfaces || a.interface.is_some() {
            Ok(if_::interfaces(v, io))
        } else if a.stats > 0 {
            inet::stats(v, a.proto.as_deref(), a.stats > 1)
        } else if a.listen {
            inet::listenpr(v, a.proto.as_deref(), a.wide)
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

/// `netstat -w N`: every N seconds, what the interfaces moved; the banner
/// again every 21 lines.
async fn interval(p: &Proc, a: &NetstatArgs, wait: u64) -> i32 {
    if wait == 0 {
        super::usage(p, &<NetstatArgs as clap::CommandFactory>::command());
        return 1;
    }
    let only = a.interface.as_deref();
    let get = || p.vnet(|_, v| if_::totals(v, only)).ok().flatten();
    let Some(mut old) = get() else {
        errln!(p, "netstat: interface {} not found", only.unwrap_or(""));
        return 65;
    };
    p.intr.catch();
    let mut lines = 0u64;
    let mut shown = 0u64;
    loop {
        if lines.is_multiple_of(21) {
            p.stdout.write_bytes(if_::banner(only, a.drops).as_bytes());
        }
        let stopped = p.timeout(Some(std::time::Duration::from_secs(wait)), {
            let intr = p.intr.clone();
            std::future::poll_fn(move |cx| {
                if intr.poll_raised(cx.waker()) {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            })
        });
        if stopped.await.is_some() {
            return 0;
        }
        let Some(new) = get() else { return 1 };
        p.stdout.write_bytes(if_::delta(&new, &old, a.drops).as_bytes());
        old = new;
        lines += 1;
        shown += 1;
        if a.howmany.is_some_and(|n| shown >= n) {
            return 0;
        }
    }
}
