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
use crate::net::route::Inet;
use crate::netinet::icmp::{self, ICMP_ECHO, ICMP_ECHOREPLY, icmp_is_error};
use crate::netinet::ip::{IPPROTO_ICMP, Ipv4Hdr};
use crate::netinet::ip_output::{IpOpts, ip_output};
use crate::netinet::raw_ip::{RawSock, rip_attach};
use crate::wire::icmp as wicmp;
use crate::wire::ipv4::Packet;
use crate::{errln, outln};

/// ping(8)'s usage, IPv4 part.
const USAGE: &str = "\n\tping [-4AaDdfHnoQqRrv] [-C pcp] [-c count] [-G sweepmaxsize]
\t    [-g sweepminsize] [-h sweepincrsize] [-i wait] [-l preload]
\t    [-M mask | time] [-m ttl] [-P policy] [-p pattern] [-S src_addr]
\t    [-s packetsize] [-t timeout] [-W waittime] [-z tos] IPv4-host";

/// send ICMP ECHO_REQUEST packets to network hosts (ping(8))
#[derive(Parser, Debug)]
#[command(name = "ping", disable_help_flag = true, disable_version_flag = true, override_usage = USAGE)]
pub struct PingArgs {
    /// IPv4 only (it is).
    #[arg(short = '4')]
    inet: bool,
    /// Audible: a bell when a packet is received.
    #[arg(short = 'a')]
    audible: bool,
    /// Set the Don't Fragment bit.
    #[arg(short = 'D')]
    dontfrag: bool,
    /// Flood: a dot for each request sent, a backspace for each reply;
    /// requests as fast as replies come or a hundred a second.
    #[arg(short = 'f')]
    flood: bool,
    /// Stop after sending (and receiving) count ECHO_RESPONSE packets.
    #[arg(short = 'c', value_name = "count")]
    count: Option<String>,
    /// Wait wait seconds between sending each packet (default 1; 0: back
    /// to back).
    #[arg(short = 'i', value_name = "wait")]
    interval: Option<String>,
    /// Set the IP Time To Live for outgoing packets.
    #[arg(short = 'm', value_name = "ttl")]
    ttl: Option<String>,
    /// Numeric output only (it always is).
    #[arg(short = 'n')]
    numeric: bool,
    /// Exit successfully after receiving one reply packet.
    #[arg(short = 'o')]
    once: bool,
    /// Fill the packet's data with up to 16 bytes of this hex pattern.
    #[arg(short = 'p', value_name = "pattern")]
    pattern: Option<String>,
    /// Quiet output: only the summary lines.
    #[arg(short = 'q')]
    quiet: bool,
    /// Use the following IP address as the source address.
    #[arg(short = 'S', value_name = "src_addr")]
    src: Option<String>,
    /// Number of data bytes to be sent (default 56).
    #[arg(short = 's', value_name = "packetsize")]
    size: Option<String>,
    /// Stop after timeout seconds.
    #[arg(short = 't', value_name = "timeout")]
    timeout: Option<String>,
    /// Verbose: list the ICMP packets received that are not echo replies.
    #[arg(short = 'v')]
    verbose: bool,
    /// Time in milliseconds to wait for a reply for each packet sent.
    #[arg(short = 'W', value_name = "waittime")]
    waittime: Option<String>,
    /// The host to ping.
    host: String,
}

/// The duplicate table's size (ping.c's MAX_DUP_CHK).
const MAX_DUP_CHK: usize = 8 * 128;

/// EX_USAGE, for a bad value.
const EX_USAGE: i32 = 64;

/// `ping: MSG: `VALUE'` and EX_USAGE.
fn bad(p: &Proc, what: &str, v: &str) -> i32 {
    errln!(p, "ping: {what}: `{v}'");
    EX_USAGE
}

/// strtonum(3): a decimal in `min..=max`.
fn strtonum(s: &str, min: i64, max: i64) -> Option<i64> {
    s.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// strtod(3) over the whole word.
fn strtod(s: &str) -> Option<f64> {
    s.trim_start().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// ping's `fill()`: up to 16 bytes, two hex digits each.
fn pattern(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let b = s.as_bytes();
    Some(
        b.chunks(2)
            .take(16)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("0"), 16).unwrap_or(0))
            .collect(),
    )
}

/// Text for an ICMP error, as ping's `pr_icmph`.
fn icmp_text(msg: &wicmp::Packet<&[u8]>) -> String {
    match (msg.msg_type(), msg.code()) {
        (icmp::ICMP_UNREACH, 0) => "Destination Net Unreachable".into(),
        (icmp::ICMP_UNREACH, 1) => "Destination Host Unreachable".into(),
        (icmp::ICMP_UNREACH, 2) => "Destination Protocol Unreachable".into(),
        (icmp::ICMP_UNREACH, 3) => "Destination Port Unreachable".into(),
        (icmp::ICMP_UNREACH, 4) => {
            format!("frag needed and DF set (MTU {})", msg.next_mtu())
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
            format!("{what}(New addr: {})", Inet(msg.gateway()))
        }
        (icmp::ICMP_TIMXCEED, 0) => "Time to live exceeded".into(),
        (icmp::ICMP_TIMXCEED, 1) => "Frag reassembly time exceeded".into(),
        (icmp::ICMP_TIMXCEED, c) => format!("Time exceeded, Bad Code: {c}"),
        (icmp::ICMP_PARAMPROB, _) => format!("Parameter problem: pointer = 0x{:02x}", msg.pointer()),
        (ICMP_ECHOREPLY, _) => "Echo Reply".into(),
        (ICMP_ECHO, _) => "Echo Request".into(),
        (icmp::ICMP_TSTAMP, _) => "Timestamp".into(),
        (icmp::ICMP_TSTAMPREPLY, _) => "Timestamp Reply".into(),
        (t, _) => format!("Bad ICMP type: {t}"),
    }
}

/// ping's `pr_iph`: the quoted header, field by field.
fn pr_iph(h: &[u8]) -> String {
    let p = Packet::new_unchecked(h);
    let q = Ipv4Hdr {
        len: p.total_len(),
        ..p.repr()
    };
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
        p.version(),
        q.hl / 4,
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
    // `ping -6`, or an IPv6 host: ping6 (as FreeBSD's ping does).
    if argv
        .iter()
        .skip(1)
        .any(|w| w == "-6" || (!w.starts_with('-') && w.contains(':')))
    {
        return super::ping6::ping6(p, argv).await;
    }
    let a: PingArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    // The values, checked in getopt's order, with ping.c's words.
    let count = match a.count.as_deref().map(|c| (c, strtonum(c, 1, i64::MAX))) {
        Some((c, None)) => return bad(&p, "invalid count of packets to transmit", c),
        Some((_, Some(n))) => Some(n as u64),
        None => None,
    };
    let interval = match a.interval.as_deref().map(|i| (i, strtod(i))) {
        Some((i, None)) => return bad(&p, "invalid timing interval", i),
        Some((i, Some(v))) if !(0.0..=i32::MAX as f64 / 1000.0).contains(&v) => {
            return bad(&p, "invalid timing interval", i);
        }
        // Milliseconds, as ping keeps it; 0 is back to back (a tick of
        // the clock apart, so that time moves).
        Some((_, Some(v))) => Some(Duration::from_millis((v * 1000.0) as u64).max(Duration::from_micros(1))),
        None => None,
    };
    let ttl = match a.ttl.as_deref().map(|t| (t, strtonum(t, 0, 255))) {
        Some((t, None)) => return bad(&p, "invalid TTL", t),
        Some((_, Some(n))) => Some(n as u8),
        None => None,
    };
    let datalen = match a.size.as_deref().map(|s| (s, strtonum(s, 0, i32::MAX as i64))) {
        Some((s, None)) => return bad(&p, "invalid packet size", s),
        Some((_, Some(n))) => n as usize,
        None => 56,
    };
    let timeout = match a.timeout.as_deref() {
        Some(t) => {
            // strtoul(3) with base 0: the digits it can read.
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<u64>() {
                Ok(n) if n > 3600 => {
                    errln!(p, "ping: invalid timeout: `{t}' > 3600");
                    return EX_USAGE;
                }
                Ok(n) if n >= 1 => Some(n),
                _ => return bad(&p, "invalid timeout", t),
            }
        }
        None => None,
    };
    let waittime = match a.waittime.as_deref().map(|w| (w, strtod(w))) {
        Some((w, None)) => return bad(&p, "invalid timing interval", w),
        Some((_, Some(v))) => Duration::from_millis(v.max(0.0) as u64),
        None => Duration::from_millis(10_000),
    };
    if datalen > 65507 {
        errln!(p, "ping: packet size too large: {datalen} > 65507");
        return EX_USAGE;
    }
    let pat = match a.pattern.as_deref().map(pattern) {
        Some(None) => {
            errln!(p, "ping: patterns must be specified as hex digits");
            return EX_USAGE;
        }
        Some(Some(b)) => Some(b),
        None => None,
    };
    let src = match a.src.as_deref() {
        None => None,
        Some(s) => match super::gethostbyname(&p, s) {
            Some(x) => Some(x),
            None => {
                errln!(p, "ping: cannot resolve {s}: Unknown host");
                return 68;
            }
        },
    };
    let Some(dst) = super::gethostbyname(&p, &a.host) else {
        errln!(p, "ping: cannot resolve {}: Unknown host", a.host);
        return 68;
    };
    if a.flood && interval.is_some() {
        errln!(p, "ping: -f and -i: incompatible options");
        return EX_USAGE;
    }
    // Flood: a hundred a second, or as fast as replies come.
    let interval = interval.unwrap_or(if a.flood {
        Duration::from_millis(10)
    } else {
        Duration::from_secs(1)
    });
    let from = src.map(|s| format!(" from {}", Inet(s))).unwrap_or_default();
    // In a jail with addresses, the source is one of them (bind(2)).
    let src = match super::raw_source(&p, "ping", dst, src.unwrap_or(0)) {
        Ok(s) => (s != 0).then_some(s),
        Err(st) => return st,
    };
    let opened = p.vnet(|_, v| (rip_attach(v, IPPROTO_ICMP), (v.random() & 0xffff) as u16));
    let (sock, ident): (Rc<RefCell<RawSock>>, u16) = match opened {
        Ok(x) => x,
        Err(e) => {
            errln!(p, "ping: {e}");
            return 1;
        }
    };
    if let (Some(pat), false) = (&pat, a.quiet) {
        let hex: String = pat.iter().map(|b| format!("{b:02x}")).collect();
        outln!(p, "PATTERN: 0x{hex}");
    }
    outln!(p, "PING {} ({}){from}: {datalen} data bytes", a.host, Inet(dst));
    let start = p.now();
    let stop_at = timeout.map(|t| start.saturating_add(Duration::from_secs(t)));
    let mut sent: HashMap<u16, Time> = HashMap::new();
    let (mut ntransmitted, mut nreceived, mut nrepeats, mut nlate) = (0u64, 0u64, 0u64, 0u64);
    // The duplicate table: 1024 bits, a sequence number's cleared as it
    // is sent (ping.c's rcvd_tbl).
    let mut seen = [false; MAX_DUP_CHK];
    let (mut tmin, mut tmax, mut tsum, mut tsumsq) = (f64::MAX, 0f64, 0f64, 0f64);
    let mut next_send = start;
    let mut last_deadline: Option<Time> = None;
    let dots = a.flood && !a.quiet;
    // ^C ends the run with the statistics, as ping(8)'s SIGINT handler.
    p.intr.catch();
    loop {
        if p.intr.raised() {
            break;
        }
        let now = p.now();
        if stop_at.is_some_and(|s| now >= s) || (a.once && nreceived > 0) || count.is_some_and(|c| nreceived >= c) {
            break;
        }
        if last_deadline.is_some_and(|d| now >= d) {
            break;
        }
        if now >= next_send && count.is_none_or(|c| ntransmitted < c) {
            let seq = ntransmitted as u16;
            let mut m = Mbuf::zeroed(8 + datalen);
            let b = m.data_mut();
            let mut echo = wicmp::Packet::new_unchecked(&mut *b);
            echo.set_msg_type(ICMP_ECHO);
            echo.set_echo_ident(ident);
            echo.set_echo_seq_no(seq);
            // The data: when it left (ping.c's struct tv32), then the pattern.
            if datalen >= 8 {
                b[8..12].copy_from_slice(&((now.0 / 1_000_000_000) as u32).to_be_bytes());
                b[12..16].copy_from_slice(&((now.0 % 1_000_000_000) as u32).to_be_bytes());
                for i in 8..datalen {
                    b[8 + i] = match &pat {
                        Some(pat) => pat[(i - 8) % pat.len()],
                        None => i as u8,
                    };
                }
            }
            wicmp::Packet::new_unchecked(&mut *b).fill_checksum();
            let opts = IpOpts {
                src,
                ttl,
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
            seen[seq as usize % MAX_DUP_CHK] = false;
            ntransmitted += 1;
            if dots {
                p.stdout.write_bytes(b".");
            }
            next_send = now.saturating_add(interval);
            if count.is_some_and(|c| ntransmitted >= c) {
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
        let deadline = last_deadline.unwrap_or(next_send);
        let deadline = stop_at.map_or(deadline, |s| s.min(deadline));
        let Some((at, d)) = recv_until(&p, &sock, deadline).await else {
            continue;
        };
        let Ok(h) = Ipv4Hdr::parse(&d) else { continue };
        let Some(msg) = wicmp::Packet::new_checked(&d[h.hl..h.len as usize]) else {
            continue;
        };
        let cc = h.len as usize - h.hl;
        if msg.msg_type() == ICMP_ECHOREPLY && msg.echo_ident() == ident {
            let seq = msg.echo_seq_no();
            let Some(&t0) = sent.get(&seq) else { continue };
            let rtt = at.saturating_sub(t0);
            if rtt > waittime {
                nlate += 1;
                continue;
            }
            let ms = rtt.as_secs_f64() * 1e3;
            let dup = seen[seq as usize % MAX_DUP_CHK];
            if dup {
                nrepeats += 1;
            } else {
                seen[seq as usize % MAX_DUP_CHK] = true;
                nreceived += 1;
            }
            tsum += ms;
            tsumsq += ms * ms;
            tmin = tmin.min(ms);
            tmax = tmax.max(ms);
            if dots {
                p.stdout.write_bytes(b"\x08");
                // The next as soon as this one is back.
                next_send = p.now();
            } else if !a.quiet {
                if a.audible {
                    p.stdout.write_bytes(b"\x07");
                }
                let dupmark = if dup { " (DUP!)" } else { "" };
                outln!(
                    p,
                    "{cc} bytes from {}: icmp_seq={seq} ttl={} time={ms:.3} ms{dupmark}",
                    Inet(h.src),
                    h.ttl
                );
            }
        } else {
            // Errors about our own echo requests; with -v every other
            // ICMP packet too.
            let ours = icmp_is_error(msg.msg_type())
                && Packet::new_checked(msg.data()).is_ok_and(|q| {
                    let qi = wicmp::Packet::new_checked(q.payload());
                    q.dst_addr() == dst
                        && q.protocol() == IPPROTO_ICMP
                        && qi.is_some_and(|qi| qi.msg_type() == ICMP_ECHO && qi.echo_ident() == ident)
                });
            if !(ours || a.verbose) {
                continue;
            }
            outln!(p, "{cc} bytes from {}: {}", Inet(h.src), icmp_text(&msg));
            if icmp_is_error(msg.msg_type()) && msg.data().len() >= 20 {
                p.stdout.write_bytes(pr_iph(msg.data()).as_bytes());
            }
            outln!(p);
        }
    }
    let rtt = (datalen >= 8).then_some((tmin, tsum, tsumsq, tmax));
    let c = Counts {
        tx: ntransmitted,
        rx: nreceived,
        rep: nrepeats,
        late: nlate,
    };
    summary(&p, &format!("{} ping", a.host), c, rtt, "stddev");
    if nreceived > 0 { 0 } else { 2 }
}

/// The next datagram of a raw socket, or `None` at `deadline` or on ^C.
pub(crate) async fn recv_until(p: &Proc, sock: &Rc<RefCell<RawSock>>, deadline: Time) -> Option<(Time, Vec<u8>)> {
    recvif_until(p, sock, Some(deadline)).await.map(|(t, _, d)| (t, d))
}

/// The next datagram with the interface it came in by, or `None` at
/// `deadline` (if any) or on ^C.
pub(crate) async fn recvif_until(
    p: &Proc,
    sock: &Rc<RefCell<RawSock>>,
    deadline: Option<Time>,
) -> Option<(Time, u32, Vec<u8>)> {
    let (s2, intr) = (sock.clone(), p.intr.clone());
    p.until(deadline, move |w| {
        if intr.poll_raised(w) {
            return Some(None);
        }
        RawSock::poll_recvif(&s2, w).map(Some)
    })
    .await
    .flatten()
}

/// What a ping counted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub tx: u64,
    pub rx: u64,
    pub rep: u64,
    pub late: u64,
}

/// The closing statistics of ping and ping6 (`finish`, `pr6_summary`):
/// `what` is "HOST ping" or "HOST ping6"; `rtt` the minimum, sum, sum of
/// squares and maximum of the round trips in ms, if timed; `dev` the
/// name each gives the deviation.
pub(crate) fn summary(p: &Proc, what: &str, c: Counts, rtt: Option<(f64, f64, f64, f64)>, dev: &str) {
    outln!(p);
    outln!(p, "--- {what} statistics ---");
    let mut line = format!("{} packets transmitted, {} packets received, ", c.tx, c.rx);
    if c.rep > 0 {
        line += &format!("+{} duplicates, ", c.rep);
    }
    if c.tx > 0 {
        if c.rx > c.tx {
            line += "-- somebody's duplicating packets!";
        } else {
            line += &format!("{:.1}% packet loss", (c.tx - c.rx) as f64 * 100.0 / c.tx as f64);
        }
    }
    if c.late > 0 {
        line += &format!(", {} packets out of wait time", c.late);
    }
    outln!(p, "{line}");
    let n = (c.rx + c.rep) as f64;
    if let Some((tmin, tsum, tsumsq, tmax)) = rtt
        && n > 0.0
    {
        let avg = tsum / n;
        let sd = (tsumsq / n - avg * avg).max(0.0).sqrt();
        outln!(
            p,
            "round-trip min/avg/max/{dev} = {tmin:.3}/{avg:.3}/{tmax:.3}/{sd:.3} ms"
        );
    }
}
