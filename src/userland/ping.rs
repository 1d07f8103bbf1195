//! ping(8): send ICMP ECHO_REQUEST packets to network hosts, through a
//! raw ICMP socket of the jail's vnet, with FreeBSD's output.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;

use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::kern::proc::Proc;
use crate::net::route::{Inet, inet_addr};
use crate::netinet::icmp::{self, ICMP_ECHO, ICMP_ECHOREPLY, icmp_is_error};
use crate::netinet::in_cksum::in_cksum;
use crate::netinet::ip::{IPPROTO_ICMP, Ipv4Hdr};
use crate::netinet::ip_output::{IpOpts, ip_output};
use crate::netinet::raw_ip::{RawSock, rip_attach};
use crate::{errln, outln};

/// send ICMP ECHO_REQUEST packets to network hosts (ping(8))
#[derive(Parser, Debug)]
#[command(name = "ping", disable_help_flag = true, disable_version_flag = true)]
pub struct PingArgs {
    /// Set the Don't Fragment bit.
    #[arg(short = 'D')]
    dontfrag: bool,
    /// Stop after sending (and receiving) count ECHO_RESPONSE packets.
    #[arg(short = 'c', value_name = "count")]
    count: Option<u64>,
    /// Wait wait seconds between sending each packet (default 1).
    #[arg(short = 'i', value_name = "wait")]
    interval: Option<f64>,
    /// Set the IP Time To Live for outgoing packets.
    #[arg(short = 'm', value_name = "ttl")]
    ttl: Option<u8>,
    /// Numeric output only (it always is).
    #[arg(short = 'n')]
    numeric: bool,
    /// Exit successfully after receiving one reply packet.
    #[arg(short = 'o')]
    once: bool,
    /// Quiet output: only the summary lines.
    #[arg(short = 'q')]
    quiet: bool,
    /// Use the following IP address as the source address.
    #[arg(short = 'S', value_name = "src_addr")]
    src: Option<String>,
    /// Number of data bytes to be sent (default 56).
    #[arg(short = 's', value_name = "packetsize")]
    size: Option<usize>,
    /// Stop after timeout seconds.
    #[arg(short = 't', value_name = "timeout")]
    timeout: Option<u64>,
    /// Time in milliseconds to wait for a reply for each packet sent.
    #[arg(short = 'W', value_name = "waittime")]
    waittime: Option<u64>,
    /// The host to ping.
    host: String,
}

/// Text for an ICMP error, as ping's `pr_icmph`.
fn icmp_text(t: u8, code: u8, icmp: &[u8]) -> String {
    match (t, code) {
        (icmp::ICMP_UNREACH, 0) => "Destination Net Unreachable".into(),
        (icmp::ICMP_UNREACH, 1) => "Destination Host Unreachable".into(),
        (icmp::ICMP_UNREACH, 2) => "Destination Protocol Unreachable".into(),
        (icmp::ICMP_UNREACH, 3) => "Destination Port Unreachable".into(),
        (icmp::ICMP_UNREACH, 4) => {
            format!(
                "frag needed and DF set (MTU {})",
                u16::from_be_bytes([icmp[6], icmp[7]])
            )
        }
        (icmp::ICMP_UNREACH, 5) => "Source Route Failed".into(),
        (icmp::ICMP_UNREACH, 13) => "Communication prohibited by filter".into(),
        (icmp::ICMP_UNREACH, c) => format!("Dest Unreachable, Bad Code: {c}"),
        (icmp::ICMP_SOURCEQUENCH, _) => "Source Quench".into(),
        (icmp::ICMP_REDIRECT, c) => {
            let what = match c {
                0 => "Redirect Network",
                1 => "Redirect Host",
                2 => "Redirect Type of Service and Network",
                _ => "Redirect Type of Service and Host",
            };
            format!(
                "{what}(New addr: {})",
                Inet(u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]))
            )
        }
        (icmp::ICMP_TIMXCEED, 0) => "Time to live exceeded".into(),
        (icmp::ICMP_TIMXCEED, 1) => "Frag reassembly time exceeded".into(),
        (icmp::ICMP_TIMXCEED, c) => format!("Time exceeded, Bad Code: {c}"),
        (icmp::ICMP_PARAMPROB, _) => format!("Parameter problem: pointer = 0x{:02x}", icmp[4]),
        (t, _) => format!("Bad ICMP type: {t}"),
    }
}

/// ping's `pr_iph`: the quoted header, field by field.
fn pr_iph(h: &[u8]) -> String {
    let q = Ipv4Hdr::read(h, 20, u16::from_be_bytes([h[2], h[3]]));
    let (src, dst) = (Inet(q.src).to_string(), Inet(q.dst).to_string());
    let mut s = format!(
        "Vr HL TOS  Len   ID Flg  off TTL Pro  cks {:>sw$} {:>dw$}\n",
        "Src",
        "Dst",
        sw = src.len(),
        dw = dst.len()
    );
    s += &format!(
        " {:1x}  {:1x}  {:02x} {:04x} {:04x}   {:1x} {:04x}  {:02x}  {:02x} {:04x} {src} {dst}\n",
        h[0] >> 4,
        h[0] & 0xf,
        q.tos,
        q.len,
        q.id,
        q.off >> 13,
        q.off & 0x1fff,
        q.ttl,
        q.p,
        q.sum
    );
    s
}

pub async fn ping(p: Proc, argv: Vec<String>) -> i32 {
    let a: PingArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(dst) = super::gethostbyname(&p, &a.host) else {
        errln!(p, "ping: cannot resolve {}: Name does not resolve", a.host);
        return 68;
    };
    let src = match a.src.as_deref().map(inet_addr) {
        None => None,
        Some(Some(s)) => Some(s),
        Some(None) => {
            errln!(p, "ping: invalid source address: {}", a.src.as_deref().unwrap_or(""));
            return 64;
        }
    };
    let interval = match a.interval {
        Some(i) if !(i.is_finite() && i > 0.0) => {
            errln!(p, "ping: invalid timing interval: `{i}'");
            return 64;
        }
        Some(i) => Duration::from_secs_f64(i),
        None => Duration::from_secs(1),
    };
    if a.count == Some(0) {
        errln!(p, "ping: invalid count of packets to transmit: `0'");
        return 64;
    }
    let datalen = a.size.unwrap_or(56);
    if datalen > 65507 {
        errln!(p, "ping: invalid packet size: `{datalen}'");
        return 64;
    }
    let waittime = Duration::from_millis(a.waittime.unwrap_or(10_000));
    let opened = p.vnet(|_, v| (rip_attach(v, IPPROTO_ICMP), (v.random() & 0xffff) as u16));
    let (sock, ident): (Rc<RefCell<RawSock>>, u16) = match opened {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "ping: {e}");
            return 1;
        }
    };
    let from = src.map(|s| format!(" from {}", Inet(s))).unwrap_or_default();
    outln!(p, "PING {} ({}){from}: {datalen} data bytes", a.host, Inet(dst));
    let start = p.now();
    let stop_at = a.timeout.map(|t| start.saturating_add(Duration::from_secs(t)));
    let mut sent: HashMap<u16, Time> = HashMap::new();
    let (mut ntransmitted, mut nreceived, mut nrepeats, mut nlate) = (0u64, 0u64, 0u64, 0u64);
    let mut seen = vec![false; 65536];
    let (mut tmin, mut tmax, mut tsum, mut tsumsq) = (f64::MAX, 0f64, 0f64, 0f64);
    let mut next_send = start;
    let mut last_deadline: Option<Time> = None;
    // ^C ends the run with the statistics, as ping(8)'s SIGINT handler.
    p.intr.catch();
    loop {
        if p.intr.raised() {
            break;
        }
        let now = p.now();
        if stop_at.is_some_and(|s| now >= s) || (a.once && nreceived > 0) || a.count.is_some_and(|c| nreceived >= c) {
            break;
        }
        if last_deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_send && a.count.is_none_or(|c| ntransmitted < c) {
            let seq = ntransmitted as u16;
            let mut m = Mbuf::zeroed(8 + datalen);
            let b = m.data_mut();
            b[0] = ICMP_ECHO;
            b[4..6].copy_from_slice(&ident.to_be_bytes());
            b[6..8].copy_from_slice(&seq.to_be_bytes());
            if datalen >= 8 {
                b[8..12].copy_from_slice(&((now.0 / 1_000_000_000) as u32).to_be_bytes());
                b[12..16].copy_from_slice(&((now.0 % 1_000_000_000) as u32).to_be_bytes());
                for i in 8..datalen {
                    b[8 + i] = i as u8;
                }
            }
            let c = in_cksum(b);
            b[2..4].copy_from_slice(&c.to_be_bytes());
            let opts = IpOpts {
                src,
                ttl: a.ttl,
                df: a.dontfrag,
                proto: IPPROTO_ICMP,
                ..IpOpts::default()
            };
            let r = p.vnet(|k, v| ip_output(k, v, m, dst, &opts));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errln!(p, "ping: sendto: {e}"),
                Err(e) => errln!(p, "ping: sendto: {e}"),
            }
            sent.insert(seq, now);
            // The sequence number is reused every 65,536: a reply to it is
            // new again (ping.c's CLR(seq) in pinger).
            seen[seq as usize] = false;
            ntransmitted += 1;
            next_send = now.saturating_add(interval);
            if a.count.is_some_and(|c| ntransmitted >= c) {
                // The last one: wait for stragglers, then stop.
                let wait = if nreceived > 0 {
                    Duration::from_secs_f64((2.0 * tmax / 1e3).max(1.0)).min(waittime)
                } else {
                    waittime
                };
                last_deadline = Some(now.saturating_add(wait));
            }
            continue;
        }
        let deadline = match (last_deadline, a.count.is_none_or(|c| ntransmitted < c)) {
            (Some(d), _) => d,
            (None, _) => next_send,
        };
        let deadline = stop_at.map_or(deadline, |s| s.min(deadline));
        let (s2, intr) = (sock.clone(), p.intr.clone());
        let got = p
            .until(Some(deadline), move |w| {
                if intr.poll_raised(w) {
                    return Some(None);
                }
                RawSock::poll_recv(&s2, w).map(Some)
            })
            .await;
        let Some(Some((at, d))) = got else { continue };
        let Ok(h) = Ipv4Hdr::parse(&d) else { continue };
        let icmp = &d[h.hl..h.len as usize];
        if icmp.len() < 8 {
            continue;
        }
        let cc = icmp.len();
        if icmp[0] == ICMP_ECHOREPLY && u16::from_be_bytes([icmp[4], icmp[5]]) == ident {
            let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
            let Some(&t0) = sent.get(&seq) else { continue };
            let rtt = at.saturating_sub(t0);
            if rtt > waittime {
                nlate += 1;
                continue;
            }
            let ms = rtt.as_secs_f64() * 1e3;
            let dup = seen[seq as usize];
            if dup {
                nrepeats += 1;
            } else {
                seen[seq as usize] = true;
                nreceived += 1;
            }
            tsum += ms;
            tsumsq += ms * ms;
            tmin = tmin.min(ms);
            tmax = tmax.max(ms);
            if !a.quiet {
                let dupmark = if dup { " (DUP!)" } else { "" };
                outln!(
                    p,
                    "{cc} bytes from {}: icmp_seq={seq} ttl={} time={ms:.3} ms{dupmark}",
                    Inet(h.src),
                    h.ttl
                );
            }
        } else if icmp_is_error(icmp[0]) && icmp.len() >= 8 + 20 + 8 {
            // Only errors about our own echo requests.
            let inner = &icmp[8..];
            let ihl = ((inner[0] & 0xf) as usize) * 4;
            if inner.len() < ihl + 8 {
                continue;
            }
            let q = Ipv4Hdr::read(inner, ihl, inner.len() as u16);
            let qi = &inner[ihl..];
            if q.dst != dst || q.p != IPPROTO_ICMP || qi[0] != ICMP_ECHO || u16::from_be_bytes([qi[4], qi[5]]) != ident
            {
                continue;
            }
            if !a.quiet {
                outln!(
                    p,
                    "{cc} bytes from {}: {}",
                    Inet(h.src),
                    icmp_text(icmp[0], icmp[1], icmp)
                );
                p.stdout.write_bytes(pr_iph(inner).as_bytes());
                outln!(p);
            }
        }
    }
    outln!(p);
    outln!(p, "--- {} ping statistics ---", a.host);
    let mut line = format!("{ntransmitted} packets transmitted, {nreceived} packets received, ");
    if nrepeats > 0 {
        line += &format!("+{nrepeats} duplicates, ");
    }
    if ntransmitted > 0 {
        if nreceived > ntransmitted {
            line += "-- somebody's duplicating packets!";
        } else {
            line += &format!(
                "{:.1}% packet loss",
                (ntransmitted - nreceived) as f64 * 100.0 / ntransmitted as f64
            );
        }
    }
    if nlate > 0 {
        line += &format!(", {nlate} packets out of wait time");
    }
    outln!(p, "{line}");
    let n = (nreceived + nrepeats) as f64;
    if n > 0.0 && datalen >= 8 {
        let avg = tsum / n;
        let sd = (tsumsq / n - avg * avg).max(0.0).sqrt();
        outln!(
            p,
            "round-trip min/avg/max/stddev = {tmin:.3}/{avg:.3}/{tmax:.3}/{sd:.3} ms"
        );
    }
    if nreceived > 0 { 0 } else { 2 }
}
