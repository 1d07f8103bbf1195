//! traceroute(8): print the route packets take to a network host — UDP
//! probes (or ICMP echo with -I) with growing TTLs, sent on a raw socket,
//! answered by routers' "time exceeded" and the target's "unreachable".

use std::time::Duration;

use clap::Parser;

use crate::kern::mbuf::Mbuf;
use crate::kern::proc::Proc;
use crate::net::route::{Inet, inet_addr};
use crate::netinet::icmp::{self, ICMP_ECHO, ICMP_ECHOREPLY};
use crate::netinet::in_pcb::ip4;
use crate::netinet::ip::{IP, IP_HDR_LEN, IPPROTO_ICMP, IPPROTO_UDP, Ipv4Hdr};
use crate::netinet::ip_output::ip_output_raw;
use crate::netinet::raw_ip::{RawSock, rip_attach};
use crate::wire::icmp as wicmp;
use crate::wire::ipv4::Packet;
use crate::wire::{ipv4, udp};
use crate::{errln, outln};

/// Where a probe's data begins: after its IP and its ICMP or UDP header.
const OUTDATA: usize = IP_HDR_LEN + 8;

/// print the route packets take to network host (traceroute(8))
#[derive(Parser, Debug)]
#[command(name = "traceroute", disable_help_flag = true, disable_version_flag = true)]
pub struct TracerouteArgs {
    /// Use ICMP ECHO instead of UDP datagrams.
    #[arg(short = 'I')]
    icmp: bool,
    /// The first TTL (default 1).
    #[arg(short = 'f', value_name = "first_ttl")]
    first_ttl: Option<u8>,
    /// The largest TTL (default net.inet.ip.ttl).
    #[arg(short = 'm', value_name = "max_ttl")]
    max_ttl: Option<u8>,
    /// Print hop addresses numerically (they always are).
    #[arg(short = 'n')]
    numeric: bool,
    /// The base UDP port (default 33434).
    #[arg(short = 'p', value_name = "port")]
    port: Option<u16>,
    /// Probes per TTL (default 3).
    #[arg(short = 'q', value_name = "nqueries")]
    nprobes: Option<u32>,
    /// The source address of the probes.
    #[arg(short = 's', value_name = "src_addr")]
    src: Option<String>,
    /// Seconds to wait for a response to a probe (default 5).
    #[arg(short = 'w', value_name = "waittime")]
    waittime: Option<u64>,
    /// The destination.
    host: String,
    /// The probe size in bytes (default 40).
    packetlen: Option<usize>,
}

pub async fn traceroute(p: Proc, argv: Vec<String>) -> i32 {
    let a: TracerouteArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(dst) = super::gethostbyname(&p, &a.host) else {
        errln!(p, "traceroute: unknown host {}", a.host);
        return 1;
    };
    let src = match &a.src {
        Some(s) => match inet_addr(s) {
            Some(x) => x,
            None => {
                errln!(p, "traceroute: unknown host {s}");
                return 1;
            }
        },
        None => 0,
    };
    // In a jail with addresses, the source is one of them.
    let src = match super::raw_source(&p, "traceroute", dst, src) {
        Ok(s) => s,
        Err(st) => return st,
    };
    let nprobes = a.nprobes.unwrap_or(3).clamp(1, 10);
    let waittime = Duration::from_secs(a.waittime.unwrap_or(5).clamp(1, 86400));
    let base = a.port.unwrap_or(33434);
    // IP and UDP (or ICMP) headers, then 12 bytes of probe data.
    let packlen = a.packetlen.unwrap_or(40).clamp(40, 32768);
    let opened = p.vnet(|_, v| {
        let ttl = v.builtin(IP).defttl;
        (rip_attach(v, IPPROTO_ICMP), (v.random() as u16) | 0x8000, ttl)
    });
    let (sock, ident, defttl) = match opened {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "traceroute: {e}");
            return 1;
        }
    };
    let max_ttl = a.max_ttl.unwrap_or(defttl.clamp(1, 255) as u8);
    let first_ttl = a.first_ttl.unwrap_or(1);
    if first_ttl > max_ttl {
        errln!(
            p,
            "traceroute: first ttl ({first_ttl}) may not be greater than max ttl ({max_ttl})"
        );
        return 1;
    }
    errln!(
        p,
        "traceroute to {} ({}), {max_ttl} hops max, {packlen} byte packets",
        a.host,
        Inet(dst)
    );
    let mut seq: u16 = 0;
    for ttl in first_ttl..=max_ttl {
        let mut line = format!("{ttl:2} ");
        let mut last: Option<u32> = None;
        let (mut got_there, mut unreachable) = (false, 0);
        for _ in 0..nprobes {
            seq = seq.wrapping_add(1);
            let t0 = p.now();
            let mut b = vec![0u8; packlen];
            Ipv4Hdr::new(
                src,
                dst,
                if a.icmp { IPPROTO_ICMP } else { IPPROTO_UDP },
                ttl,
                ident.wrapping_add(seq),
                packlen as u16,
            )
            .write(&mut b);
            let dport = base.wrapping_add(seq);
            // The probe's data (traceroute.c's outdata): its sequence, its
            // TTL and when it left.
            b[OUTDATA] = seq as u8;
            b[OUTDATA + 1] = ttl;
            b[OUTDATA + 4..OUTDATA + 12].copy_from_slice(&t0.0.to_be_bytes());
            if a.icmp {
                let mut echo = wicmp::Packet::new_unchecked(&mut b[IP_HDR_LEN..]);
                echo.set_msg_type(ICMP_ECHO);
                echo.set_echo_ident(ident);
                echo.set_echo_seq_no(seq);
                echo.fill_checksum();
            } else {
                udp::Packet::new_unchecked(&mut b[IP_HDR_LEN..]).emit_header(ident, dport);
            }
            let sent = p.vnet(|k, v| {
                if !a.icmp {
                    // The checksum needs the source the stack will choose.
                    let s = if src != 0 { src } else { pick_src(v, dst) };
                    ipv4::Packet::new_unchecked(&mut b[..]).set_src_addr(s);
                    udp::Packet::new_unchecked(&mut b[IP_HDR_LEN..]).fill_checksum(ip4(s), ip4(dst));
                }
                ip_output_raw(k, v, Mbuf::from_slice(&b))
            });
            if let Ok(Err(e)) = sent {
                errln!(p, "traceroute: sendto: {e}");
            }
            let deadline = t0.saturating_add(waittime);
            let reply = loop {
                let s2 = sock.clone();
                let got = p.until(Some(deadline), move |w| RawSock::poll_recv(&s2, w)).await;
                let Some((at, d)) = got else { break None };
                if let Some(r) = matches_probe(&d, a.icmp, ident, seq, dport, dst) {
                    break Some((at, r));
                }
            };
            match reply {
                None => line += " *",
                Some((at, (from, t, code))) => {
                    if last != Some(from) {
                        if last.is_some() {
                            line += "\n   ";
                        }
                        line += &if a.numeric {
                            format!(" {}", Inet(from))
                        } else {
                            format!(" {} ({})", Inet(from), Inet(from))
                        };
                        last = Some(from);
                    }
                    line += &format!("  {:.3} ms", at.saturating_sub(t0).as_secs_f64() * 1e3);
                    match (t, code) {
                        (ICMP_ECHOREPLY, _) => got_there = true,
                        (icmp::ICMP_UNREACH, icmp::ICMP_UNREACH_PORT) => got_there = from == dst || got_there,
                        (icmp::ICMP_UNREACH, c) => {
                            unreachable += 1;
                            line += match c {
                                icmp::ICMP_UNREACH_NET => " !N",
                                icmp::ICMP_UNREACH_HOST => " !H",
                                icmp::ICMP_UNREACH_PROTOCOL => {
                                    got_there = true;
                                    " !P"
                                }
                                icmp::ICMP_UNREACH_SRCFAIL => " !S",
                                13 => " !X",
                                _ => " !?",
                            };
                        }
                        _ => {}
                    }
                }
            }
        }
        outln!(p, "{line}");
        if got_there || (unreachable > 0 && unreachable >= nprobes.saturating_sub(1).max(1)) {
            break;
        }
    }
    0
}

/// The address the stack will send from towards `dst`.
fn pick_src(v: &mut crate::vnet::Vnet, dst: u32) -> u32 {
    let rt = v.builtin(crate::net::route::ROUTE).lookup(dst);
    rt.and_then(|r| crate::netinet::in_::in_ifaddr_for(v, r.ifindex, r.nexthop(dst)))
        .unwrap_or(0)
}

/// Is `d` (an ICMP datagram) the answer to probe `seq`? Its source, type
/// and code if so.
fn matches_probe(d: &[u8], icmp_mode: bool, ident: u16, seq: u16, dport: u16, dst: u32) -> Option<(u32, u8, u8)> {
    let h = Ipv4Hdr::parse(d).ok()?;
    let ic = wicmp::Packet::new_checked(d.get(h.hl..h.len as usize)?)?;
    let (t, code) = (ic.msg_type(), ic.code());
    if icmp_mode && t == ICMP_ECHOREPLY {
        let ok = ic.echo_ident() == ident && ic.echo_seq_no() == seq;
        return ok.then_some((h.src, t, code));
    }
    if !(t == icmp::ICMP_TIMXCEED && code == icmp::ICMP_TIMXCEED_INTRANS) && t != icmp::ICMP_UNREACH {
        return None;
    }
    let inner = ic.data();
    if inner.len() < 28 {
        return None;
    }
    let p = Packet::new_checked(inner).ok()?;
    let q = p.repr();
    let l4 = p.payload().get(..8)?;
    let ours = if icmp_mode {
        q.p == IPPROTO_ICMP
            && l4[0] == ICMP_ECHO
            && u16::from_be_bytes([l4[4], l4[5]]) == ident
            && u16::from_be_bytes([l4[6], l4[7]]) == seq
    } else {
        let u = udp::Packet::new_unchecked(l4);
        q.p == IPPROTO_UDP && u.src_port() == ident && u.dst_port() == dport
    };
    (ours && q.dst == dst).then_some((h.src, t, code))
}
