//! traceroute6(8): the route IPv6 packets take — UDP probes (ICMPv6 echo
//! with -I) with growing hop limits, answered by routers' "time
//! exceeded" and the target's "port unreachable", heard on a raw ICMPv6
//! socket; traceroute6.c's output.

use std::net::Ipv6Addr;
use std::time::Duration;

use clap::Parser;

use crate::kern::mbuf::Mbuf;
use crate::kern::proc::Proc;
use crate::netinet::ip::IPPROTO_UDP;
use crate::netinet::raw_ip::rip_attach;
use crate::netinet6::icmp6::rip6_output;
use crate::netinet6::in6::{in6_fmt, in6_getscope, in6_selectsrc, in6_setscope, is_scoped};
use crate::netinet6::ip6::{IP6, IP6_HDR_LEN, IPPROTO_ICMPV6};
use crate::netinet6::ip6_output::{Ip6Opts, ip6_output, ip6_route};
use crate::userland::ping::recv_until;
use crate::userland::ping6::getaddrinfo6;
use crate::wire::icmpv6::{self as wicmp6, *};
use crate::wire::ipv6::{Packet, ext_walk};
use crate::wire::udp;
use crate::{errln, outln};

/// Bytes of probe data after the UDP header (traceroute6.c's `struct
/// tv32` and its hop and sequence bytes).
const DATALEN: usize = 12;

/// print the route IPv6 packets take to a network node (traceroute6(8))
#[derive(Parser, Debug)]
#[command(name = "traceroute6", disable_help_flag = true, disable_version_flag = true)]
pub struct Traceroute6Args {
    /// Use ICMPv6 echo instead of UDP datagrams.
    #[arg(short = 'I')]
    icmp: bool,
    /// The first hop limit (default 1).
    #[arg(short = 'f', value_name = "firsthop")]
    first: Option<u8>,
    /// The largest hop limit (default net.inet6.ip6.hlim).
    #[arg(short = 'm', value_name = "hoplimit")]
    max: Option<u8>,
    /// Print hop addresses numerically (they always are).
    #[arg(short = 'n')]
    numeric: bool,
    /// The base UDP port (default 33434).
    #[arg(short = 'p', value_name = "port")]
    port: Option<u16>,
    /// Probes per hop (default 3).
    #[arg(short = 'q', value_name = "probes")]
    nprobes: Option<u32>,
    /// The source address of the probes.
    #[arg(short = 's', value_name = "src")]
    src: Option<String>,
    /// Seconds to wait for a response to a probe (default 5).
    #[arg(short = 'w', value_name = "waittime")]
    waittime: Option<u64>,
    /// The destination.
    host: String,
    /// Bytes of probe data (default 12).
    datalen: Option<usize>,
}

pub async fn traceroute6(p: Proc, argv: Vec<String>) -> i32 {
    let a: Traceroute6Args = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(dst) = getaddrinfo6(&p, &a.host) else {
        errln!(p, "traceroute6: {}: No address associated with hostname", a.host);
        return 1;
    };
    let given = match &a.src {
        Some(s) => match getaddrinfo6(&p, s) {
            Some(x) => Some(x),
            None => {
                errln!(p, "traceroute6: {s}: No address associated with hostname");
                return 1;
            }
        },
        None => None,
    };
    let datalen = a.datalen.unwrap_or(DATALEN).clamp(DATALEN, 32768);
    let opened = p.vnet(|_, v| {
        let src = ip6_route(v, &dst, None)
            .ok()
            .flatten()
            .and_then(|nh| in6_selectsrc(v, &dst, nh.ifindex));
        let hlim = v.builtin(IP6).hlim;
        (rip_attach(v, IPPROTO_ICMPV6), (v.random() as u16) | 0x8000, hlim, src)
    });
    let (sock, ident, hlim, chosen) = match opened {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "traceroute6: {e}");
            return 1;
        }
    };
    let Some(src) = given.or(chosen) else {
        errln!(p, "traceroute6: connect: No route to host");
        return 1;
    };
    let max = a.max.unwrap_or(hlim.clamp(1, 255) as u8);
    let first = a.first.unwrap_or(1);
    if first > max {
        errln!(p, "traceroute6: first hop out of range");
        return 1;
    }
    let (nprobes, waittime, base) = (
        a.nprobes.unwrap_or(3).clamp(1, 10),
        Duration::from_secs(a.waittime.unwrap_or(5).clamp(1, 86400)),
        a.port.unwrap_or(33434),
    );
    let (dsts, srcs) = p.vnet(|_, v| (in6_fmt(v, &dst), in6_fmt(v, &src))).unwrap_or_default();
    let from = if a.src.is_some() {
        format!(" from {srcs}")
    } else {
        String::new()
    };
    errln!(
        p,
        "traceroute6 to {} ({dsts}){from}, {max} hops max, {} byte packets",
        a.host,
        8 + datalen
    );
    let mut seq: u16 = 0;
    for hops in first..=max {
        let mut line = format!("{hops:2} ");
        let mut last: Option<Ipv6Addr> = None;
        let (mut got_there, mut unreachable) = (false, 0);
        for _ in 0..nprobes {
            seq = seq.wrapping_add(1);
            let t0 = p.now();
            let dport = base.wrapping_add(seq);
            let mut b = vec![0u8; 8 + datalen];
            b[8] = seq as u8;
            b[9] = hops;
            b[12..20].copy_from_slice(&t0.0.to_be_bytes());
            let o = Ip6Opts {
                hlim: Some(hops),
                proto: if a.icmp { IPPROTO_ICMPV6 } else { IPPROTO_UDP },
                ..Ip6Opts::default()
            };
            let sent = p.vnet(|k, v| {
                if a.icmp {
                    let mut e = wicmp6::Packet::new_unchecked(&mut b[..]);
                    e.set_msg_type(ICMP6_ECHO_REQUEST);
                    e.set_echo_ident(ident);
                    e.set_echo_seq(seq);
                    e.fill_checksum(&src, &dst);
                    rip6_output(k, v, &b, src, dst, &o)
                } else {
                    let mut u = udp::Packet::new_unchecked(&mut b[..]);
                    u.emit_header(ident, dport);
                    u.fill_checksum(src.into(), dst.into());
                    ip6_output(k, v, Mbuf::from_slice(&b), src, dst, &o)
                }
            });
            if let Ok(Err(e)) = sent {
                errln!(p, "traceroute6: sendto: {e}");
            }
            let deadline = t0.saturating_add(waittime);
            let reply = loop {
                let Some((at, d)) = recv_until(&p, &sock, deadline).await else {
                    break None;
                };
                if let Some(r) = matches_probe(&d, a.icmp, ident, seq, dport, &dst) {
                    break Some((at, r));
                }
            };
            let Some((at, (from, t, code))) = reply else {
                line += " *";
                continue;
            };
            let from = if is_scoped(&from) {
                in6_setscope(from, in6_getscope(&dst).unwrap_or(0))
            } else {
                from
            };
            if last != Some(from) {
                let f = p.vnet(|_, v| in6_fmt(v, &from)).unwrap_or_default();
                line += &if a.numeric {
                    format!(" {f}")
                } else {
                    format!(" {f} ({f})")
                };
                last = Some(from);
            }
            line += &format!("  {:.3} ms", at.saturating_sub(t0).as_secs_f64() * 1e3);
            match (t, code) {
                (ICMP6_ECHO_REPLY, _) | (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT) => got_there = true,
                (ICMP6_DST_UNREACH, c) => {
                    unreachable += 1;
                    line += match c {
                        ICMP6_DST_UNREACH_NOROUTE => " !N",
                        ICMP6_DST_UNREACH_ADMIN => " !P",
                        ICMP6_DST_UNREACH_BEYONDSCOPE => " !S",
                        ICMP6_DST_UNREACH_ADDR => " !A",
                        _ => " !?",
                    };
                }
                (ICMP6_PARAM_PROB, _) => {
                    unreachable += 1;
                    line += " !H";
                }
                _ => {}
            }
        }
        outln!(p, "{line}");
        if got_there || (unreachable > 0 && unreachable >= nprobes.saturating_sub(1).max(1)) {
            break;
        }
    }
    0
}

/// Is `d` (an ICMPv6 datagram from its IPv6 header) the answer to probe
/// `seq`? Its source, type and code if so.
fn matches_probe(
    d: &[u8],
    icmp_mode: bool,
    ident: u16,
    seq: u16,
    dport: u16,
    dst: &Ipv6Addr,
) -> Option<(Ipv6Addr, u8, u8)> {
    let ip = Packet::new_checked(d).ok()?;
    let c = ext_walk(d).ok()?;
    let ic = wicmp6::Packet::new_checked(d.get(c.off..)?)?;
    let (t, code) = (ic.msg_type(), ic.code());
    if icmp_mode && t == ICMP6_ECHO_REPLY {
        let ok = ic.echo_ident() == ident && ic.echo_seq() == seq;
        return ok.then_some((ip.src_addr(), t, code));
    }
    if !matches!(t, ICMP6_TIME_EXCEEDED | ICMP6_DST_UNREACH | ICMP6_PARAM_PROB) {
        return None;
    }
    // The quote: the probe's IPv6 header and its first 8 bytes (maybe
    // cut short of what its length says).
    let q = ic.data();
    let l4 = q.get(IP6_HDR_LEN..IP6_HDR_LEN + 8)?;
    let qh = Packet::new_unchecked(q);
    let ours = if icmp_mode {
        wicmp6::Packet::new_checked(l4)
            .is_some_and(|e| e.msg_type() == ICMP6_ECHO_REQUEST && e.echo_ident() == ident && e.echo_seq() == seq)
    } else {
        let u = udp::Packet::new_unchecked(l4);
        qh.next_header() == IPPROTO_UDP && u.src_port() == ident && u.dst_port() == dport
    };
    let qdst = qh.dst_addr();
    (ours && crate::netinet6::in6::in6_clearscope(*dst) == qdst).then_some((ip.src_addr(), t, code))
}
