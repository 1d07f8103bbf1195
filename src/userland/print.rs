//! One-line decodes of frames, in tcpdump's words (its print-*.c):
//! Ethernet, ARP, IPv4, ICMP, UDP and TCP. Also the summary the capture
//! filter matches on. Malformed input is decoded as far as it goes.

use crate::net::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IP, ether_ntoa};
use crate::net::route::Inet;
use crate::netinet::icmp;
use crate::netinet::ip::{IP_MF, IP_OFFMASK, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};

/// How frames of an interface begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (`DLT_EN10MB`).
    Ether,
    /// The BSD loopback: a 4-byte address family, then IP (`DLT_NULL`).
    Null,
}

/// What a capture filter looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub ether: Option<([u8; 6], [u8; 6])>,
    pub arp: bool,
    pub ip: bool,
    pub src: Option<u32>,
    pub dst: Option<u32>,
    pub proto: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}

fn be32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(i..i + 4)?.try_into().ok()?))
}

/// The network-layer part of a frame and its type.
fn network(link: LinkType, frame: &[u8]) -> Option<(u16, &[u8])> {
    match link {
        LinkType::Ether => Some((be16(frame, 12)?, frame.get(14..)?)),
        LinkType::Null => Some((ETHERTYPE_IP, frame.get(4..)?)),
    }
}

/// The filter's view of a frame.
pub fn summarize(link: LinkType, frame: &[u8]) -> Summary {
    let mut s = Summary::default();
    if link == LinkType::Ether && frame.len() >= 14 {
        let mut d = [0; 6];
        let mut src = [0; 6];
        d.copy_from_slice(&frame[0..6]);
        src.copy_from_slice(&frame[6..12]);
        s.ether = Some((src, d));
    }
    let Some((etype, n)) = network(link, frame) else {
        return s;
    };
    match etype {
        ETHERTYPE_ARP => {
            s.arp = true;
            s.src = be32(n, 14);
            s.dst = be32(n, 24);
        }
        ETHERTYPE_IP if n.len() >= 20 => {
            s.ip = true;
            s.src = be32(n, 12);
            s.dst = be32(n, 16);
            s.proto = Some(n[9]);
            let hl = ((n[0] & 0xf) as usize) * 4;
            let first = be16(n, 6).is_some_and(|o| o & IP_OFFMASK == 0);
            if first && matches!(n[9], IPPROTO_UDP | IPPROTO_TCP) {
                s.sport = be16(n, hl);
                s.dport = be16(n, hl + 2);
            }
        }
        _ => {}
    }
    s
}

/// A frame as tcpdump prints it (after the timestamp); `eflag` adds the
/// link-level header.
pub fn decode(link: LinkType, frame: &[u8], eflag: bool) -> String {
    let Some((etype, n)) = network(link, frame) else {
        return format!("[|ether] length {}", frame.len());
    };
    let mut out = String::new();
    if eflag && link == LinkType::Ether {
        let tname = match etype {
            ETHERTYPE_IP => "IPv4",
            ETHERTYPE_ARP => "ARP",
            _ => "Unknown",
        };
        out += &format!(
            "{} > {}, ethertype {tname} (0x{etype:04x}), length {}: ",
            ether_ntoa(&frame[6..12]),
            ether_ntoa(&frame[0..6]),
            frame.len()
        );
    }
    match etype {
        ETHERTYPE_ARP => {
            if !eflag {
                out += "ARP, ";
            }
            out += &arp(n);
        }
        ETHERTYPE_IP => {
            if !eflag {
                out += "IP ";
            }
            out += &ip(n);
        }
        t => {
            if !eflag {
                out += &format!("ethertype Unknown (0x{t:04x}), length {}", frame.len());
            } else {
                out += &format!("length {}", n.len());
            }
        }
    }
    out
}

fn arp(n: &[u8]) -> String {
    let (Some(op), Some(spa), Some(tpa)) = (be16(n, 6), be32(n, 14), be32(n, 24)) else {
        return format!("[|ARP] length {}", n.len());
    };
    let len = 28.min(n.len());
    match op {
        1 => {
            let tha = &n[18..24];
            let who = if tha.iter().any(|&b| b != 0) {
                format!("{} ({})", Inet(tpa), ether_ntoa(tha))
            } else {
                Inet(tpa).to_string()
            };
            format!("Request who-has {who} tell {}, length {len}", Inet(spa))
        }
        2 => format!("Reply {} is-at {}, length {len}", Inet(spa), ether_ntoa(&n[8..14])),
        o => format!("Unknown ({o}), length {len}"),
    }
}

fn ip(n: &[u8]) -> String {
    if n.len() < 20 {
        return format!("[|ip] length {}", n.len());
    }
    let hl = ((n[0] & 0xf) as usize) * 4;
    let len = be16(n, 2).unwrap_or(0) as usize;
    let (src, dst) = (Inet(be32(n, 12).unwrap_or(0)), Inet(be32(n, 16).unwrap_or(0)));
    let off = be16(n, 6).unwrap_or(0);
    let body = n.get(hl..len.min(n.len())).unwrap_or(&[]);
    let p = n[9];
    if off & IP_OFFMASK != 0 {
        let more = if off & IP_MF != 0 { "+" } else { "" };
        return format!(
            "{src} > {dst}: ip-proto-{p} (frag {}:{}@{}{more})",
            be16(n, 4).unwrap_or(0),
            body.len(),
            (off & IP_OFFMASK) * 8
        );
    }
    match p {
        IPPROTO_ICMP => format!("{src} > {dst}: ICMP {}, length {}", icmp_text(body), body.len()),
        IPPROTO_UDP => {
            let (Some(sp), Some(dp), Some(ul)) = (be16(body, 0), be16(body, 2), be16(body, 4)) else {
                return format!("{src} > {dst}: [|udp]");
            };
            format!(
                "{src}.{sp} > {dst}.{dp}: UDP, length {}",
                (ul as usize).saturating_sub(8)
            )
        }
        IPPROTO_TCP => tcp(&src.to_string(), &dst.to_string(), body),
        _ => format!("{src} > {dst}: ip-proto-{p} {}", body.len()),
    }
}

fn icmp_text(b: &[u8]) -> String {
    if b.len() < 8 {
        return "[|icmp]".into();
    }
    let (t, code) = (b[0], b[1]);
    let inner = &b[8..];
    let qdst = be32(inner, 16).map(Inet);
    let ihl = inner.first().map_or(20, |v| ((v & 0xf) as usize) * 4);
    match t {
        icmp::ICMP_ECHO | icmp::ICMP_ECHOREPLY => format!(
            "echo {}, id {}, seq {}",
            if t == icmp::ICMP_ECHO { "request" } else { "reply" },
            be16(b, 4).unwrap_or(0),
            be16(b, 6).unwrap_or(0)
        ),
        icmp::ICMP_UNREACH => {
            let d = qdst.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
            let qp = inner.get(9).copied().unwrap_or(0);
            let qport = be16(inner, ihl + 2).unwrap_or(0);
            match code {
                0 => format!("net {d} unreachable"),
                1 => format!("host {d} unreachable"),
                2 => format!("{d} protocol {qp} unreachable"),
                3 => {
                    let pr = if qp == IPPROTO_TCP { "tcp" } else { "udp" };
                    format!("{d} {pr} port {qport} unreachable")
                }
                4 => format!("{d} unreachable - need to frag (mtu {})", be16(b, 6).unwrap_or(0)),
                13 => format!("host {d} unreachable - admin prohibited filter"),
                c => format!("{d} unreachable - code {c}"),
            }
        }
        icmp::ICMP_TIMXCEED if code == 1 => "ip reassembly time exceeded".into(),
        icmp::ICMP_TIMXCEED => "time exceeded in-transit".into(),
        icmp::ICMP_REDIRECT => format!(
            "redirect {} to host {}",
            qdst.map(|a| a.to_string()).unwrap_or_default(),
            Inet(be32(b, 4).unwrap_or(0))
        ),
        icmp::ICMP_SOURCEQUENCH => "source quench".into(),
        icmp::ICMP_PARAMPROB => format!("parameter problem - octet {}", b[4]),
        icmp::ICMP_TSTAMP => "time stamp query".into(),
        icmp::ICMP_TSTAMPREPLY => "time stamp reply".into(),
        t => format!("type-#{t}"),
    }
}

fn tcp(src: &str, dst: &str, b: &[u8]) -> String {
    let (Some(sp), Some(dp), Some(seq), Some(ack)) = (be16(b, 0), be16(b, 2), be32(b, 4), be32(b, 8)) else {
        return format!("{src} > {dst}: [|tcp]");
    };
    let off = b.get(12).map_or(20, |o| ((o >> 4) as usize) * 4);
    let fl = b.get(13).copied().unwrap_or(0);
    let win = be16(b, 14).unwrap_or(0);
    let mut flags = String::new();
    for (bit, c) in [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if fl & bit != 0 {
            flags.push(c);
        }
    }
    if fl & 0x10 != 0 {
        flags.push('.');
    }
    let len = b.len().saturating_sub(off);
    let mut s = format!("{src}.{sp} > {dst}.{dp}: Flags [{flags}], seq {seq}");
    if len > 0 {
        s = format!(
            "{src}.{sp} > {dst}.{dp}: Flags [{flags}], seq {seq}:{}",
            seq.wrapping_add(len as u32)
        );
    }
    if fl & 0x10 != 0 {
        s += &format!(", ack {ack}");
    }
    s += &format!(", win {win}, length {len}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_frames_do_not_panic() {
        let frame = [0u8; 64];
        for n in 0..frame.len() {
            let _ = decode(LinkType::Ether, &frame[..n], true);
            let _ = decode(LinkType::Ether, &frame[..n], false);
            let _ = decode(LinkType::Null, &frame[..n], false);
            let _ = summarize(LinkType::Ether, &frame[..n]);
        }
    }

    #[test]
    fn arp_request_line() {
        let mut f = vec![0xffu8; 6];
        f.extend_from_slice(&[
            2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1,
        ]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[10, 0, 0, 2]);
        assert_eq!(
            decode(LinkType::Ether, &f, false),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
        );
        assert_eq!(
            decode(LinkType::Ether, &f, true),
            "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
        );
    }
}
