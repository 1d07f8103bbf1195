//! ping6 (`ping -6`, FreeBSD's sbin/ping/ping6.c): ICMPv6 ECHO_REQUEST
//! packets through a raw ICMPv6 socket of the jail's vnet, with ping6's
//! output.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;

use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::netinet::raw_ip::{RawSock, rip_attach};
use crate::netinet6::icmp6::rip6_output;
use crate::netinet6::in6::{in6_fmt, in6_getscope, in6_selectsrc, in6_setscope, is_scoped};
use crate::netinet6::ip6::IPPROTO_ICMPV6;
use crate::netinet6::ip6_output::{Ip6Opts, ip6_route};
use crate::userland::ping::{Counts, recv_until, summary};
use crate::wire::icmpv6::{self as wicmp6, ICMP6_ECHO_REPLY, ICMP6_ECHO_REQUEST, ICMP6_HDR_LEN};
use crate::wire::ipv6::{Packet, ext_walk};
use crate::{errln, outln};

const USAGE: &str = "\n\tping -6 [-AaDdEfHnNoOqruvyY] [-b bufsiz] [-c count] [-e gateway]
\t    [-I interface] [-i wait] [-k addrtype] [-l preload] [-m hoplimit]
\t    [-p pattern] [-P policy] [-S sourceaddr] [-s packetsize] [-t timeout]
\t    [-W waittime] [-z tclass] [IPv6-hops ...] IPv6-host";

/// send ICMPv6 ECHO_REQUEST packets to network hosts (ping6)
#[derive(Parser, Debug)]
#[command(name = "ping6", disable_help_flag = true, disable_version_flag = true, override_usage = USAGE)]
pub struct Ping6Args {
    /// IPv6 (it is).
    #[arg(short = '6')]
    inet6: bool,
    /// Stop after sending (and receiving) count ECHO_RESPONSE packets.
    #[arg(short = 'c', value_name = "count")]
    count: Option<u64>,
    /// Wait wait seconds between sending each packet (default 1).
    #[arg(short = 'i', value_name = "wait")]
    interval: Option<f64>,
    /// Source packets with the given interface (for a link-local
    /// destination without a zone).
    #[arg(short = 'I', value_name = "interface")]
    interface: Option<String>,
    /// The hop limit of outgoing packets.
    #[arg(short = 'm', value_name = "hoplimit")]
    hlim: Option<u8>,
    /// Numeric output only (it always is).
    #[arg(short = 'n')]
    numeric: bool,
    /// Exit after one reply.
    #[arg(short = 'o')]
    once: bool,
    /// Quiet: only the summary lines.
    #[arg(short = 'q')]
    quiet: bool,
    /// The source address.
    #[arg(short = 'S', value_name = "sourceaddr")]
    src: Option<String>,
    /// Data bytes to send (default 8: the time it left).
    #[arg(short = 's', value_name = "packetsize")]
    size: Option<usize>,
    /// Stop after timeout seconds.
    #[arg(short = 't', value_name = "timeout")]
    timeout: Option<u64>,
    /// List the ICMPv6 packets received that are not echo replies.
    #[arg(short = 'v')]
    verbose: bool,
    /// Milliseconds to wait for a reply to each packet.
    #[arg(short = 'W', value_name = "waittime")]
    waittime: Option<u64>,
    /// The host to ping.
    host: String,
}

/// An IPv6 address as a command takes it (`fe80::1%epair0a`, `::1`,
/// `localhost`, a lab's node name), its zone embedded (`getaddrinfo`
/// with AF_INET6).
pub fn getaddrinfo6(p: &Proc, name: &str) -> Option<Ipv6Addr> {
    if name == "localhost" {
        return Some(Ipv6Addr::LOCALHOST);
    }
    if let Some(a) = p.kernel().hosts6.get(name) {
        return Some(*a);
    }
    p.vnet(|_, v| crate::netinet6::in6::in6_parse(v, name)).ok().flatten()
}

/// ping6's description of an ICMPv6 message (`pr6_icmph`'s first line).
fn icmp6_text(t: u8, code: u8, param: u32) -> String {
    use crate::wire::icmpv6::*;
    match (t, code) {
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE) => "No Route to Destination".into(),
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADMIN) => "Destination Administratively Unreachable".into(),
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE) => "Destination Unreachable Beyond Scope".into(),
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR) => "Destination Host Unreachable".into(),
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT) => "Destination Port Unreachable".into(),
        (ICMP6_DST_UNREACH, c) => format!("Destination Unreachable, Bad Code: {c}"),
        (ICMP6_PACKET_TOO_BIG, _) => format!("Packet too big mtu = {param}"),
        (ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT) => "Time to live exceeded".into(),
        (ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASSEMBLY) => "Frag reassembly time exceeded".into(),
        (ICMP6_TIME_EXCEEDED, c) => format!("Time exceeded, Bad Code: {c}"),
        (ICMP6_PARAM_PROB, c) => {
            let what = match c {
                ICMP6_PARAMPROB_HEADER => "Erroneous Header ".to_string(),
                ICMP6_PARAMPROB_NEXTHEADER => "Unknown Nextheader ".to_string(),
                ICMP6_PARAMPROB_OPTION => "Unrecognized Option ".to_string(),
                c => format!("Bad code({c}) "),
            };
            format!("Parameter problem: {what}pointer = 0x{param:02x}")
        }
        (ICMP6_ECHO_REQUEST, _) => "Echo Request".into(),
        (ND_ROUTER_SOLICIT, _) => "Router Solicitation".into(),
        (ND_ROUTER_ADVERT, _) => "Router Advertisement".into(),
        (ND_NEIGHBOR_SOLICIT, _) => "Neighbor Solicitation".into(),
        (ND_NEIGHBOR_ADVERT, _) => "Neighbor Advertisement".into(),
        (ND_REDIRECT, _) => "Redirect".into(),
        (t, _) => format!("Bad ICMP type: {t}"),
    }
}

pub async fn ping6(p: Proc, argv: Vec<String>) -> i32 {
    let a: Ping6Args = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(mut dst) = getaddrinfo6(&p, &a.host) else {
        errln!(p, "ping6: {}: No address associated with hostname", a.host);
        return 1;
    };
    if let Some(ifname) = &a.interface {
        let index = p
            .vnet(|_, v| v.builtin(crate::net::ifnet::IF).by_name(ifname).map(|i| i.index))
            .ok()
            .flatten();
        match index {
            Some(i) if is_scoped(&dst) && in6_getscope(&dst).is_none() => dst = in6_setscope(dst, i),
            Some(_) => {}
            None => {
                errln!(p, "ping6: {ifname}: Device not configured");
                return 1;
            }
        }
    }
    let datalen = a.size.unwrap_or(8);
    if datalen > 65527 {
        errln!(p, "ping6: datalen value too large, maximum is 65527");
        return 64;
    }
    let src = match &a.src {
        Some(s) => match getaddrinfo6(&p, s) {
            Some(s) => Some(s),
            None => {
                errln!(p, "ping6: {s}: No address associated with hostname");
                return 1;
            }
        },
        None => None,
    };
    // The source as connect(2) would choose it, to show it.
    let chosen = p
        .vnet(|_, v| {
            let nh = ip6_route(v, &dst, None).ok().flatten()?;
            in6_selectsrc(v, &dst, nh.ifindex)
        })
        .ok()
        .flatten();
    let src = src.or(chosen).unwrap_or(Ipv6Addr::UNSPECIFIED);
    let opened = p.vnet(|_, v| (rip_attach(v, IPPROTO_ICMPV6), (v.random() & 0xffff) as u16));
    let (sock, ident): (Rc<RefCell<RawSock>>, u16) = match opened {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "ping6: {e}");
            return 1;
        }
    };
    let (srcs, dsts) = p.vnet(|_, v| (in6_fmt(v, &src), in6_fmt(v, &dst))).unwrap_or_default();
    outln!(p, "PING6({}=40+8+{datalen} bytes) {srcs} --> {dsts}", 48 + datalen);
    let interval = Duration::from_secs_f64(a.interval.unwrap_or(1.0).max(0.000_001));
    let waittime = Duration::from_millis(a.waittime.unwrap_or(10_000));
    let start = p.now();
    let stop_at = a.timeout.map(|t| start.saturating_add(Duration::from_secs(t)));
    let mut sent: HashMap<u16, Time> = HashMap::new();
    let (mut ntx, mut nrx, mut nrep) = (0u64, 0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    let (mut tmin, mut tmax, mut tsum, mut tsumsq) = (f64::MAX, 0f64, 0f64, 0f64);
    let mut next_send = start;
    let mut last_deadline: Option<Time> = None;
    p.intr.catch();
    loop {
        if p.intr.raised() {
            break;
        }
        let now = p.now();
        if stop_at.is_some_and(|s| now >= s) || (a.once && nrx > 0) || a.count.is_some_and(|c| nrx >= c) {
            break;
        }
        if last_deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_send && a.count.is_none_or(|c| ntx < c) {
            let seq = ntx as u16;
            let mut b = vec![0u8; ICMP6_HDR_LEN + datalen];
            if datalen >= 8 {
                b[8..12].copy_from_slice(&((now.0 / 1_000_000_000) as u32).to_be_bytes());
                b[12..16].copy_from_slice(&((now.0 % 1_000_000_000 / 1000) as u32).to_be_bytes());
                for (i, x) in b[16..].iter_mut().enumerate() {
                    *x = i as u8;
                }
            }
            let mut echo = wicmp6::Packet::new_unchecked(&mut b[..]);
            echo.set_msg_type(ICMP6_ECHO_REQUEST);
            echo.set_echo_ident(ident);
            echo.set_echo_seq(seq);
            echo.fill_checksum(&src, &dst);
            let o = Ip6Opts {
                hlim: a.hlim,
                proto: IPPROTO_ICMPV6,
                ..Ip6Opts::default()
            };
            match p.vnet(|k, v| rip6_output(k, v, &b, src, dst, &o)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errln!(p, "ping6: sendmsg: {e}"),
                Err(e) => errln!(p, "ping6: sendmsg: {e}"),
            }
            sent.insert(seq, now);
            seen.remove(&seq);
            ntx += 1;
            next_send = now.saturating_add(interval);
            if a.count.is_some_and(|c| ntx >= c) {
                let wait = if nrx > 0 {
                    Duration::from_secs_f64((2.0 * tmax / 1e3).max(1.0)).min(waittime)
                } else {
                    waittime
                };
                last_deadline = Some(now.saturating_add(wait));
            }
            continue;
        }
        let deadline = last_deadline.unwrap_or(next_send);
        let deadline = stop_at.map_or(deadline, |s| s.min(deadline));
        let Some((at, d)) = recv_until(&p, &sock, deadline).await else {
            continue;
        };
        let (Ok(ip), Ok(c)) = (Packet::new_checked(&d[..]), ext_walk(&d)) else {
            continue;
        };
        let Some(msg) = wicmp6::Packet::new_checked(&d[c.off..]) else {
            continue;
        };
        let from = ip.src_addr();
        let from = if is_scoped(&from) {
            in6_setscope(from, in6_getscope(&dst).unwrap_or(0))
        } else {
            from
        };
        let froms = p.vnet(|_, v| in6_fmt(v, &from)).unwrap_or_default();
        let cc = d.len() - c.off;
        if msg.msg_type() == ICMP6_ECHO_REPLY && msg.echo_ident() == ident {
            let seq = msg.echo_seq();
            let Some(&t0) = sent.get(&seq) else { continue };
            let ms = at.saturating_sub(t0).as_secs_f64() * 1e3;
            let dup = !seen.insert(seq);
            if dup {
                nrep += 1;
            } else {
                nrx += 1;
            }
            tsum += ms;
            tsumsq += ms * ms;
            tmin = tmin.min(ms);
            tmax = tmax.max(ms);
            if !a.quiet {
                let dupmark = if dup { "(DUP!)" } else { "" };
                outln!(
                    p,
                    "{cc} bytes from {froms}, icmp_seq={seq} hlim={} time={ms:.3} ms{dupmark}",
                    ip.hop_limit()
                );
            }
        } else if msg.msg_type() < 128 || a.verbose {
            // An error about one of ours, or with -v anything else.
            // The quote may be cut short of its length field's promise.
            let quoted = msg
                .data()
                .get(crate::wire::ipv6::IP6_HDR_LEN..)
                .and_then(wicmp6::Packet::new_checked)
                .map(|e| e.echo_ident());
            if msg.msg_type() < 128 && quoted != Some(ident) && !a.verbose {
                continue;
            }
            outln!(
                p,
                "{cc} bytes from {froms}: {}",
                icmp6_text(msg.msg_type(), msg.code(), msg.param())
            );
        }
    }
    let rtt = (nrx > 0 && datalen >= 8).then_some((tmin, tsum, tsumsq, tmax));
    let c = Counts {
        tx: ntx,
        rx: nrx,
        rep: nrep,
        late: 0,
    };
    summary(&p, &format!("{} ping6", a.host), c, rtt, "std-dev");
    if nrx > 0 { 0 } else { 2 }
}
