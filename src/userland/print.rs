//! tcpdump's decodes (its print-*.c, as of 4.99): Ethernet, ARP, IPv4,
//! ICMP, UDP and TCP, one line a frame; TCP options and sequence numbers
//! relative to the handshake; `-v`'s IP header and checksums; the `-x`,
//! `-X` and `-A` dumps; the `-t` family of timestamps. Malformed input is
//! decoded as far as it goes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::net::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IP, ether_ntoa};
use crate::net::if_tunnel::{IPPROTO_GRE, IPPROTO_IPIP};
use crate::net::if_vlan::ETHERTYPE_VLAN;
use crate::net::route::Inet;
use crate::netinet::icmp;
use crate::netinet::in_pcb::ip4;
use crate::netinet::ip::{IP_MF, IP_OFFMASK, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use crate::wire::checksum::{fold, pseudo, sum};
use crate::wire::ethernet::ETHERTYPE_IPV6;
use crate::wire::ethernet::{ETHER_HDR_LEN, Frame};
use crate::wire::ipv4::Packet;
use crate::wire::ipv6 as ip6;

/// How frames of an interface begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II (`DLT_EN10MB`).
    Ether,
    /// The BSD loopback: a 4-byte address family, then IP (`DLT_NULL`).
    Null,
}

impl LinkType {
    /// As tcpdump names it (`EN10MB (Ethernet)`).
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ether => "EN10MB (Ethernet)",
            LinkType::Null => "NULL (BSD loopback)",
        }
    }
}

/// Which dump follows each line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dump {
    #[default]
    None,
    /// `-x`: hex.
    Hex,
    /// `-X`: hex and ASCII.
    HexAscii,
    /// `-A`: ASCII.
    Ascii,
}

/// tcpdump's printing options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    /// `-e`: the link-level header.
    pub eflag: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-S`: absolute TCP sequence numbers.
    pub absolute: bool,
    pub dump: Dump,
    /// `-x`/`-X`/`-A` given twice: the link-level header too.
    pub dump_link: bool,
    /// `-t` count: 0 `HH:MM:SS.us`, 1 none, 2 epoch, 3 delta, 4 date, 5
    /// since the first.
    pub tflag: u8,
}

/// A conversation's first sequence numbers, one per direction.
type SeqBase = (u32, u32);

/// A printer: tcpdump's options and what it remembers between frames.
#[derive(Default)]
pub struct Printer {
    pub o: Opts,
    seqs: HashMap<(IpAddr, u16, IpAddr, u16), SeqBase>,
    first: Option<Duration>,
    prev: Option<Duration>,
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
        LinkType::Ether => Frame::new_checked(frame).map(|f| (f.ethertype(), &frame[ETHER_HDR_LEN..])),
        LinkType::Null => Some((ETHERTYPE_IP, frame.get(4..)?)),
    }
}

/// `(days since 1970-01-01)` as a civil date (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// ctime(3) without its newline: `Thu Jan  1 00:00:05 1970`.
pub fn ctime(wall: Duration) -> String {
    const DAY: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = wall.as_secs() as i64;
    let days = s.div_euclid(86_400);
    let (y, m, d) = civil(days);
    let t = s.rem_euclid(86_400);
    format!(
        "{} {} {d:2} {:02}:{:02}:{:02} {y}",
        DAY[days.rem_euclid(7) as usize],
        MON[(m - 1) as usize],
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

fn hms(t: Duration) -> String {
    let s = t.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        t.subsec_micros()
    )
}

impl Printer {
    pub fn new(o: Opts) -> Printer {
        Printer {
            o,
            ..Printer::default()
        }
    }

    /// The timestamp a line starts with (with its trailing space), as the
    /// `-t` flags say (times in UTC).
    pub fn stamp(&mut self, t: Duration) -> String {
        let first = *self.first.get_or_insert(t);
        let prev = self.prev.replace(t).unwrap_or(t);
        match self.o.tflag {
            0 => format!("{} ", hms(t)),
            1 => String::new(),
            2 => format!("{}.{:06} ", t.as_secs(), t.subsec_micros()),
            3 => format!(" {} ", hms(t.saturating_sub(prev))),
            4 => {
                let (y, m, d) = civil((t.as_secs() / 86_400) as i64);
                format!("{y:04}-{m:02}-{d:02} {} ", hms(t))
            }
            _ => format!(" {} ", hms(t.saturating_sub(first))),
        }
    }

    /// A frame as tcpdump prints it, timestamp included, with its dump.
    pub fn line(&mut self, t: Duration, link: LinkType, frame: &[u8]) -> String {
        let mut s = self.stamp(t);
        s += &self.decode(link, frame);
        let off = match (self.o.dump_link, link) {
            (true, _) => 0,
            (false, LinkType::Ether) => {
                // The link header goes with its 802.1Q tags.
                let mut off = 14;
                while be16(frame, off - 2) == Some(ETHERTYPE_VLAN) {
                    off += 4;
                }
                off.min(frame.len())
            }
            (false, LinkType::Null) => 4.min(frame.len()),
        };
        s += &dump(self.o.dump, &frame[off..]);
        s
    }

    /// The decode of a frame (no timestamp, no dump).
    pub fn decode(&mut self, link: LinkType, frame: &[u8]) -> String {
        let Some((mut etype, mut n)) = network(link, frame) else {
            return format!("[|ether] length {}", frame.len());
        };
        let tname = |t: u16| match t {
            ETHERTYPE_IP => "IPv4",
            ETHERTYPE_IPV6 => "IPv6",
            ETHERTYPE_ARP => "ARP",
            ETHERTYPE_VLAN => "802.1Q",
            _ => "Unknown",
        };
        let mut out = String::new();
        if self.o.eflag && link == LinkType::Ether {
            out += &format!(
                "{} > {}, ethertype {} (0x{etype:04x}), length {}: ",
                ether_ntoa(&Frame::new_unchecked(frame).src_addr()),
                ether_ntoa(&Frame::new_unchecked(frame).dst_addr()),
                tname(etype),
                frame.len()
            );
        }
        // 802.1Q tags: shown with -e, looked through without.
        while etype == ETHERTYPE_VLAN {
            let (Some(tci), Some(inner)) = (be16(n, 0), be16(n, 2)) else {
                return out + "[|vlan]";
            };
            if self.o.eflag {
                out += &format!(
                    "vlan {}, p {}, ethertype {} (0x{inner:04x}), ",
                    tci & 0xfff,
                    tci >> 13,
                    tname(inner)
                );
            }
            etype = inner;
            n = &n[4..];
        }
        match etype {
            ETHERTYPE_ARP => {
                if !self.o.eflag {
                    out += "ARP, ";
                }
                if self.o.verbose > 0 {
                    out += "Ethernet (len 6), IPv4 (len 4), ";
                }
                out += &arp(n);
            }
            ETHERTYPE_IP => {
                if !self.o.eflag {
                    out += "IP ";
                }
                out += &self.ip(n);
            }
            ETHERTYPE_IPV6 => {
                if !self.o.eflag {
                    out += "IP6 ";
                }
                out += &self.ip6(n);
            }
            t => {
                if !self.o.eflag {
                    out += &format!("ethertype Unknown (0x{t:04x}), length {}", frame.len());
                } else {
                    out += &format!("length {}", n.len());
                }
            }
        }
        out
    }

    fn ip(&mut self, n: &[u8]) -> String {
        if n.len() < 20 {
            return format!("[|ip] length {}", n.len());
        }
        let ip = Packet::new_unchecked(n);
        let hl = ip.header_len();
        if hl < 20 {
            return format!("bad-hlen {hl}");
        }
        let len = ip.total_len() as usize;
        let (src, dst) = (Inet(ip.src_addr()), Inet(ip.dst_addr()));
        let off = ip.flags_offset();
        let body = n.get(hl..len.min(n.len())).unwrap_or(&[]);
        let p = ip.protocol();
        let mut out = String::new();
        if self.o.verbose > 0 {
            let flags = match (off & 0x4000 != 0, off & IP_MF != 0) {
                (true, true) => "DF+",
                (true, false) => "DF",
                (false, true) => "+",
                (false, false) => "none",
            };
            let pname = match p {
                IPPROTO_ICMP => "ICMP",
                IPPROTO_UDP => "UDP",
                IPPROTO_TCP => "TCP",
                IPPROTO_IPIP => "IPIP",
                IPPROTO_GRE => "GRE",
                _ => "unknown",
            };
            out += &format!(
                "(tos 0x{:x}, ttl {}, id {}, offset {}, flags [{flags}], proto {pname} ({p}), length {len}",
                ip.tos(),
                ip.ttl(),
                ip.ident(),
                (off & IP_OFFMASK) * 8
            );
            if let Some(h) = n.get(..hl)
                && !ip.verify_checksum()
            {
                let mut z = Packet::new_unchecked(h.to_vec());
                z.fill_checksum();
                out += &format!(", bad cksum {:x} (->{:x})!", ip.checksum(), z.checksum());
            }
            out += ")\n    ";
        }
        if off & IP_OFFMASK != 0 {
            let pname = match p {
                IPPROTO_ICMP => "icmp".to_string(),
                IPPROTO_UDP => "udp".to_string(),
                IPPROTO_TCP => "tcp".to_string(),
                p => format!("ip-proto-{p}"),
            };
            return out + &format!("{src} > {dst}: {pname}");
        }
        out += &match p {
            IPPROTO_ICMP => {
                let mut l = format!("{src} > {dst}: ICMP {}, length {}", icmp_text(body), body.len());
                // -v: the datagram an error is about, as its own line.
                let error = matches!(body.first(), Some(3 | 4 | 5 | 11 | 12));
                if self.o.verbose > 0 && error && body.len() >= 8 + 20 {
                    let ip = if self.o.eflag { "" } else { "IP " };
                    l += &format!(
                        "\n\t{ip}{}",
                        self.ip(crate::wire::icmp::Packet::new_unchecked(body).data())
                    );
                }
                l
            }
            IPPROTO_UDP => self.udp(ip4(src.0), ip4(dst.0), body),
            IPPROTO_TCP => self.tcp(ip4(src.0), ip4(dst.0), body),
            IPPROTO_IPIP => {
                let ip = if self.o.eflag { "" } else { "IP " };
                format!("{src} > {dst}: {ip}{}", self.ip(body))
            }
            IPPROTO_GRE => self.gre(&src.to_string(), &dst.to_string(), body),
            _ => format!("{src} > {dst}: ip-proto-{p} {}", body.len()),
        };
        out
    }

    /// print-gre.c's: `GREv0, key=0x7, length 92: ` and what it carries.
    fn gre(&mut self, src: &str, dst: &str, b: &[u8]) -> String {
        let Some(g) = crate::wire::gre::Packet::new_truncated(b) else {
            return format!("{src} > {dst}: [|gre]");
        };
        let (flags, proto) = (g.flags(), g.protocol());
        let mut s = format!("{src} > {dst}: GREv{}", g.version());
        if self.o.verbose > 0 && flags & 0xb000 != 0 {
            let names: Vec<&str> = [
                (0x8000, "checksum present"),
                (0x2000, "key present"),
                (0x1000, "sequence# present"),
            ]
            .iter()
            .filter(|(b, _)| flags & b != 0)
            .map(|(_, n)| *n)
            .collect();
            s += &format!(", Flags [{}]", names.join(", "));
        }
        if flags & crate::wire::gre::GRE_KP != 0 {
            s += &format!(", key=0x{:x}", g.key().unwrap_or(0));
        }
        if flags & crate::wire::gre::GRE_SP != 0 {
            s += &format!(", seq {}", g.seq().unwrap_or(0));
        }
        let off = g.header_len();
        if self.o.eflag {
            let name = if proto == ETHERTYPE_IP { "IPv4" } else { "Unknown" };
            s += &format!(", proto {name} (0x{proto:04x})");
        }
        // -v puts what it carries on a line of its own.
        s += &format!(", length {}{}", b.len(), if self.o.verbose > 0 { "\n\t" } else { ": " });
        match (proto, b.get(off..)) {
            (ETHERTYPE_IP, Some(inner)) => {
                if !self.o.eflag {
                    s += "IP ";
                }
                s + &self.ip(inner)
            }
            _ => s + "[|gre]",
        }
    }

    /// print-tcp.c's line: flags, (relative) sequence numbers, window,
    /// options, length.
    /// print-udp.c's line.
    fn udp(&self, src: IpAddr, dst: IpAddr, body: &[u8]) -> String {
        if body.len() < crate::wire::udp::UDP_HDR_LEN {
            return format!("{src} > {dst}: [|udp]");
        }
        let u = crate::wire::udp::Packet::new_unchecked(body);
        let (sp, dp, ul) = (u.src_port(), u.dst_port(), u.len());
        // Over IPv6 the checksum is mandatory, and checked from -v.
        let sum = if self.o.verbose > 1 || (self.o.verbose > 0 && src.is_ipv6()) {
            match u.checksum() {
                0 => "[no cksum] ".to_string(),
                got => match l4_cksum(src, dst, body, IPPROTO_UDP) {
                    0 => "[udp sum ok] ".to_string(),
                    _ => {
                        let mut z = crate::wire::udp::Packet::new_unchecked(body.to_vec());
                        z.set_checksum(0);
                        format!(
                            "[bad udp cksum 0x{got:04x} -> 0x{:04x}!] ",
                            l4_cksum(src, dst, &z.into_inner(), IPPROTO_UDP)
                        )
                    }
                },
            }
        } else {
            String::new()
        };
        format!(
            "{src}.{sp} > {dst}.{dp}: {sum}UDP, length {}",
            (ul as usize).saturating_sub(8)
        )
    }

    /// print-ip6.c's: the extension headers by name, then the upper layer.
    fn ip6(&mut self, n: &[u8]) -> String {
        let p = match ip6::Packet::new_checked(n) {
            Ok(p) => p,
            Err(ip6::Ip6Err::BadVersion) => return format!("IP6 version {}", n[0] >> 4),
            Err(_) => return format!("[|ip6] length {}", n.len()),
        };
        let (src, dst) = (IpAddr::V6(p.src_addr()), IpAddr::V6(p.dst_addr()));
        let end = ip6::IP6_HDR_LEN + p.payload_len() as usize;
        let mut out = String::new();
        if self.o.verbose > 0 {
            out += "(";
            if p.flow_label() != 0 {
                out += &format!("flowlabel 0x{:05x}, ", p.flow_label());
            }
            out += &format!(
                "hlim {}, next-header {} ({}) payload length: {}) ",
                p.hop_limit(),
                proto_name6(p.next_header()),
                p.next_header(),
                p.payload_len()
            );
        }
        let Ok(c) = ip6::ext_walk(n) else {
            return out + &format!("{src} > {dst}: [|ip6]");
        };
        let mut exts = String::new();
        if c.hbh {
            exts += "HBH ";
            if self.o.verbose > 0 {
                exts += &ip6_opts_text(ip6::ext_options(n, ip6::IP6_HDR_LEN).0);
            }
        }
        if let Some((at, f)) = c.frag {
            exts += &format!("frag ({}|{}) ", f.offset, end - at - ip6::FragHdr::LEN);
            if f.offset != 0 {
                return out + &format!("{src} > {dst}: {exts}");
            }
        }
        let body = &n[c.off..end];
        out += &match c.proto {
            ip6::IPPROTO_ICMPV6 => format!(
                "{src} > {dst}: {exts}{}",
                icmp6(&p.src_addr(), &p.dst_addr(), body, self.o.verbose)
            ),
            IPPROTO_UDP => format!("{exts}{}", self.udp(src, dst, body)),
            IPPROTO_TCP => format!("{exts}{}", self.tcp(src, dst, body)),
            ip6::IPPROTO_NONE => format!("{src} > {dst}: {exts}no next header"),
            p => format!("{src} > {dst}: {exts}ip-proto-{p} {}", body.len()),
        };
        out
    }

    fn tcp(&mut self, src: IpAddr, dst: IpAddr, b: &[u8]) -> String {
        let Some(th) = crate::wire::tcp::Packet::new_checked(b) else {
            return format!("{src} > {dst}: [|tcp]");
        };
        let (sp, dp, mut seq, mut ack) = (th.src_port(), th.dst_port(), th.seq_number(), th.ack_number());
        let (off, fl, win) = (th.header_len(), th.flags(), th.window_len());
        let mut flags = String::new();
        for (bit, c) in [
            (0x01, 'F'),
            (0x02, 'S'),
            (0x04, 'R'),
            (0x08, 'P'),
            (0x10, '.'),
            (0x20, 'U'),
            (0x40, 'E'),
            (0x80, 'W'),
        ] {
            if fl & bit != 0 {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags = "none".into();
        }
        let len = b.len().saturating_sub(off);
        let mut s = format!("{src}.{sp} > {dst}.{dp}: Flags [{flags}]");
        if self.o.verbose > 0 && b.len() >= 20 {
            let sum = l4_cksum(src, dst, b, IPPROTO_TCP);
            let got = th.checksum();
            if sum == 0 {
                s += &format!(", cksum 0x{got:04x} (correct)");
            } else {
                let mut z = b.to_vec();
                z[16..18].copy_from_slice(&[0, 0]);
                s += &format!(
                    ", cksum 0x{got:04x} (incorrect -> 0x{:04x})",
                    l4_cksum(src, dst, &z, IPPROTO_TCP)
                );
            }
        }
        // Relative numbers, as tcp_seq_hash keeps them.
        let (mut rel_seq, mut rel_ack) = (0u32, 0u32);
        if !self.o.absolute && fl & 0x10 != 0 {
            let (sa, da) = (src, dst);
            let rev = sp > dp || (sp == dp && sa > da);
            let key = if rev { (da, dp, sa, sp) } else { (sa, sp, da, dp) };
            match self.seqs.get(&key) {
                Some(&(s0, a0)) if fl & 0x02 == 0 => {
                    if rev {
                        (rel_seq, rel_ack) = (a0, s0);
                    } else {
                        (rel_seq, rel_ack) = (s0, a0);
                    }
                }
                _ => {
                    let base = if rev {
                        (ack.wrapping_sub(1), seq)
                    } else {
                        (seq, ack.wrapping_sub(1))
                    };
                    self.seqs.insert(key, base);
                }
            }
            seq = seq.wrapping_sub(rel_seq);
            ack = ack.wrapping_sub(rel_ack);
        }
        if len > 0 || fl & 0x07 != 0 || self.o.verbose > 1 {
            s += &format!(", seq {seq}");
            if len > 0 {
                s += &format!(":{}", seq.wrapping_add(len as u32));
            }
        }
        if fl & 0x10 != 0 {
            s += &format!(", ack {ack}");
        }
        s += &format!(", win {win}");
        if fl & 0x20 != 0 {
            s += &format!(", urg {}", th.urgent_at());
        }
        if off > 20 {
            let opts = b.get(20..off.min(b.len())).unwrap_or(&[]);
            s += &format!(", options [{}]", tcp_options(opts, rel_ack));
        }
        s + &format!(", length {len}")
    }
}

/// The TCP or UDP checksum of segment `b` from `src` to `dst` (0 if
/// right).
fn l4_cksum(src: IpAddr, dst: IpAddr, b: &[u8], proto: u8) -> u16 {
    fold(sum(pseudo(src, dst, proto, b.len() as u32), b))
}

/// print-ip6.c's names of next headers.
fn proto_name6(p: u8) -> &'static str {
    match p {
        ip6::IPPROTO_HOPOPTS => "Options",
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        ip6::IPPROTO_ROUTING => "Routing",
        ip6::IPPROTO_FRAGMENT => "Fragment",
        ip6::IPPROTO_ICMPV6 => "ICMPv6",
        ip6::IPPROTO_NONE => "none",
        ip6::IPPROTO_DSTOPTS => "Destination Options",
        _ => "unknown",
    }
}

/// print-icmp6.c's line: with -v the checksum first, the length after
/// the name of an ND message (at the end of any other without -v), the
/// fields of the message, and with -v its ND options a line each.
fn icmp6(src: &Ipv6Addr, dst: &Ipv6Addr, b: &[u8], verbose: u8) -> String {
    use crate::wire::icmpv6::*;
    let Some(m) = Packet::new_checked(b) else {
        return "[|icmp6]".into();
    };
    let (t, code, len) = (m.msg_type(), m.code(), b.len());
    let mut s = String::new();
    if verbose > 0 {
        let ck = fold(sum(
            pseudo(IpAddr::V6(*src), IpAddr::V6(*dst), ip6::IPPROTO_ICMPV6, len as u32),
            b,
        ));
        s += &match ck {
            0 => "[icmp6 sum ok] ".to_string(),
            _ => {
                // in_cksum_shouldbe: what the field should have held.
                let got = m.checksum();
                let mut z = got as u32 + ck as u32;
                z = (z & 0xffff) + (z >> 16);
                z = (z & 0xffff) + (z >> 16);
                format!("[bad icmp6 cksum 0x{got:04x} -> 0x{:04x}!] ", z as u16)
            }
        };
    }
    let name = match t {
        ICMP6_DST_UNREACH => "destination unreachable".to_string(),
        ICMP6_PACKET_TOO_BIG => "packet too big".into(),
        ICMP6_TIME_EXCEEDED => "time exceeded".into(),
        ICMP6_PARAM_PROB => "parameter problem".into(),
        ICMP6_ECHO_REQUEST => "echo request".into(),
        ICMP6_ECHO_REPLY => "echo reply".into(),
        MLD_LISTENER_QUERY => "multicast listener query".into(),
        MLD_LISTENER_REPORT => "multicast listener report".into(),
        MLD_LISTENER_DONE => "multicast listener done".into(),
        ND_ROUTER_SOLICIT => "router solicitation".into(),
        ND_ROUTER_ADVERT => "router advertisement".into(),
        ND_NEIGHBOR_SOLICIT => "neighbor solicitation".into(),
        ND_NEIGHBOR_ADVERT => "neighbor advertisement".into(),
        ND_REDIRECT => "redirect".into(),
        MLDV2_LISTENER_REPORT => "multicast listener report v2".into(),
        t => format!("unknown icmp6 type ({t})"),
    };
    s += &format!("ICMP6, {name}");
    let nd = matches!(
        t,
        ND_ROUTER_SOLICIT | ND_ROUTER_ADVERT | ND_NEIGHBOR_SOLICIT | ND_NEIGHBOR_ADVERT | ND_REDIRECT
    );
    if verbose > 0 && nd {
        s += &format!(", length {len}");
    }
    // The datagram an error quotes: its destination, its ports.
    let quoted = ip6::Packet::new_checked(m.data()).ok();
    let qdst = quoted.as_ref().map(|q| q.dst_addr().to_string()).unwrap_or_default();
    match t {
        ICMP6_DST_UNREACH => {
            let what = match code {
                ICMP6_DST_UNREACH_NOROUTE => "unreachable route".to_string(),
                ICMP6_DST_UNREACH_ADMIN => "unreachable prohibited".into(),
                ICMP6_DST_UNREACH_BEYONDSCOPE => "beyond scope".into(),
                ICMP6_DST_UNREACH_ADDR => "unreachable address".into(),
                ICMP6_DST_UNREACH_NOPORT => "unreachable port".into(),
                5 => "source address failed policy".into(),
                6 => "reject route".into(),
                c => format!("unknown unreach code ({c})"),
            };
            s += &format!(", {what}");
            match code {
                ICMP6_DST_UNREACH_NOROUTE | ICMP6_DST_UNREACH_ADMIN | ICMP6_DST_UNREACH_ADDR => {
                    s += &format!(" {qdst}")
                }
                ICMP6_DST_UNREACH_BEYONDSCOPE => {
                    let qsrc = quoted.as_ref().map(|q| q.src_addr().to_string()).unwrap_or_default();
                    s += &format!(" {qdst}, source address {qsrc}")
                }
                ICMP6_DST_UNREACH_NOPORT => {
                    let up = ip6::ext_walk(m.data()).ok().and_then(|c| {
                        let port = be16(m.data(), c.off + 2)?;
                        Some((c.proto, port))
                    });
                    match up {
                        Some((IPPROTO_TCP, p)) => s += &format!(", {qdst} tcp port {p}"),
                        Some((IPPROTO_UDP, p)) => s += &format!(", {qdst} udp port {p}"),
                        Some((proto, p)) => s += &format!(", {qdst} protocol {proto} port {p} unreachable"),
                        None => s += " [|icmp6]",
                    }
                }
                _ => {}
            }
        }
        ICMP6_PACKET_TOO_BIG => s += &format!(", mtu {}", m.param()),
        ICMP6_TIME_EXCEEDED => match code {
            ICMP6_TIME_EXCEED_TRANSIT => s += &format!(" in-transit for {qdst}"),
            ICMP6_TIME_EXCEED_REASSEMBLY => s += " (reassembly)",
            c => s += &format!(", unknown code ({c})"),
        },
        ICMP6_PARAM_PROB => {
            let p = m.param();
            s += &match code {
                ICMP6_PARAMPROB_HEADER => format!(", erroneous - octet {p}"),
                ICMP6_PARAMPROB_NEXTHEADER => format!(", next header - octet {p}"),
                ICMP6_PARAMPROB_OPTION => format!(", option - octet {p}"),
                c => format!(", code-#{c}"),
            };
        }
        ICMP6_ECHO_REQUEST | ICMP6_ECHO_REPLY => s += &format!(", id {}, seq {}", m.echo_ident(), m.echo_seq()),
        MLDV2_LISTENER_REPORT => {
            let n = be16(b, 6).unwrap_or(0);
            s += &format!(", {n} group record(s)");
            let mut at = 8;
            for _ in 0..n.min(if verbose > 0 { u16::MAX } else { 0 }) {
                let (Some(rec), Some(nsrc)) = (b.get(at..at + 20), be16(b, at + 2)) else {
                    s += "[|icmp6]";
                    break;
                };
                let g = Ipv6Addr::from(<[u8; 16]>::try_from(&rec[4..20]).unwrap_or_default());
                let kind = match rec[0] {
                    1 => "is_in".to_string(),
                    2 => "is_ex".into(),
                    3 => "to_in".into(),
                    4 => "to_ex".into(),
                    5 => "allow".into(),
                    6 => "block".into(),
                    t => format!(" [v2-report-#{t}]"),
                };
                s += &format!(" [gaddr {g} {kind}");
                if verbose == 1 {
                    s += &format!(", {nsrc} source(s)");
                } else {
                    s += " {";
                    for j in 0..nsrc as usize {
                        let a = b.get(at + 20 + 16 * j..at + 36 + 16 * j).unwrap_or(&[0; 16]);
                        s += &format!(" {}", Ipv6Addr::from(<[u8; 16]>::try_from(a).unwrap_or_default()));
                    }
                    s += " }";
                }
                s += "]";
                at += 20 + 16 * nsrc as usize;
            }
        }
        ND_ROUTER_ADVERT if verbose > 0 => {
            let ra = m.ra();
            let flags = bittok(
                ra.flags as u32,
                &[
                    (0x80, "managed"),
                    (0x40, "other stateful"),
                    (0x20, "home agent"),
                    (0x04, "proxy"),
                ],
            );
            let pref = ["medium", "high", "rsv", "low"][((ra.flags >> 3) & 3) as usize];
            s += &format!(
                "\n\thop limit {}, Flags [{flags}], pref {pref}, router lifetime {}s, reachable time {}ms, retrans timer {}ms",
                ra.cur_hop_limit, ra.router_lifetime, ra.reachable, ra.retrans
            );
        }
        ND_NEIGHBOR_SOLICIT => s += &format!(", who has {}", m.target()),
        ND_NEIGHBOR_ADVERT => {
            s += &format!(", tgt is {}", m.target());
            if verbose > 0 {
                let f = bittok(
                    m.na_flags() as u32,
                    &[(0x80, "router"), (0x40, "solicited"), (0x20, "override")],
                );
                s += &format!(", Flags [{f}]");
            }
        }
        ND_REDIRECT => s += &format!(", {} to {}", m.redirect_dst(), m.target()),
        _ => {}
    }
    if verbose > 0 && nd {
        s += &nd_opts_text(b.get(nd_fixed_len_of(t)..).unwrap_or(&[]), verbose);
    }
    if verbose == 0 {
        s += &format!(", length {len}");
    }
    s
}

/// print-ip6opts.c's `ip6_opt_print`: each option of an options header.
fn ip6_opts_text(b: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == ip6::IP6OPT_PAD1 {
            s += "(pad1)";
            i += 1;
            continue;
        }
        let Some(&len) = b.get(i + 1) else {
            return s + "[|hbhopt]";
        };
        let data = b.get(i + 2..i + 2 + len as usize).unwrap_or(&[]);
        s += &match b[i] {
            ip6::IP6OPT_PADN => "(padn)".to_string(),
            ip6::IP6OPT_ROUTER_ALERT if data.len() == 2 => format!("(rtalert: 0x{:04x}) ", be16(data, 0).unwrap_or(0)),
            0xc2 if data.len() == 4 => format!("(jumbo: {}) ", be32(data, 0).unwrap_or(0)),
            t => format!("(opt_type 0x{t:02x}: len={len})"),
        };
        i += 2 + len as usize;
    }
    s + " "
}

/// The bytes before an ND message's options.
fn nd_fixed_len_of(t: u8) -> usize {
    use crate::wire::icmpv6::*;
    match t {
        ND_ROUTER_SOLICIT => 8,
        ND_ROUTER_ADVERT => 16,
        ND_REDIRECT => 40,
        _ => 24,
    }
}

/// tcpdump's `bittok2str`: the names of the bits set, or "none".
fn bittok(v: u32, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect();
    if set.is_empty() { "none".into() } else { set.join(", ") }
}

/// print-icmp6.c's `icmp6_opt_print`: each option on a line of its own.
fn nd_opts_text(o: &[u8], verbose: u8) -> String {
    use crate::wire::icmpv6::*;
    let mut s = String::new();
    let mut i = 0;
    while i + 2 <= o.len() {
        let (t, units) = (o[i], o[i + 1] as usize);
        if units == 0 || i + units * 8 > o.len() {
            return s + "[|icmp6]";
        }
        let body = &o[i..i + units * 8];
        let name = match t {
            ND_OPT_SOURCE_LINKADDR => "source link-address",
            ND_OPT_TARGET_LINKADDR => "destination link-address",
            ND_OPT_PREFIX_INFORMATION => "prefix info",
            ND_OPT_REDIRECTED_HEADER => "redirected header",
            ND_OPT_MTU => "mtu",
            ND_OPT_NONCE => "nonce",
            8 => "rdnss",
            24 => "route info",
            25 => "rdnss",
            31 => "dnssl",
            _ => "unknown",
        };
        s += &format!("\n\t  {name} option ({t}), length {} ({units}): ", units * 8);
        let life = |v: u32| {
            if v == u32::MAX {
                "infinity".to_string()
            } else {
                format!("{v}s")
            }
        };
        match (t, nd_options(body).as_deref()) {
            (ND_OPT_SOURCE_LINKADDR | ND_OPT_TARGET_LINKADDR, _) => {
                let l: Vec<String> = body[2..].iter().map(|b| format!("{b:02x}")).collect();
                s += &l.join(":");
            }
            (_, Some([NdOpt::PrefixInfo(p)])) => {
                let f = bittok(p.flags as u32, &[(0x80, "onlink"), (0x40, "auto"), (0x20, "router")]);
                s += &format!(
                    "{}/{}, Flags [{f}], valid time {}, pref. time {}",
                    p.prefix,
                    p.plen,
                    life(p.valid),
                    life(p.preferred)
                );
            }
            (_, Some([NdOpt::Mtu(m)])) => s += &format!(" {m}"),
            _ => {
                s += &hexdump(&body[2..], "\n\t  ");
                return s;
            }
        }
        if verbose > 1 {
            s += &hexdump(&body[2..], "\n\t    ");
        }
        i += units * 8;
    }
    s
}

/// tcpdump's `print_unknown_data`: `0x0000:  0102 0304 ...` lines.
fn hexdump(b: &[u8], indent: &str) -> String {
    let mut s = String::new();
    for (n, c) in b.chunks(16).enumerate() {
        let words: Vec<String> = c
            .chunks(2)
            .map(|w| w.iter().map(|x| format!("{x:02x}")).collect::<String>())
            .collect();
        s += &format!("{indent}0x{:04x}:  {}", n * 16, words.join(" "));
    }
    s
}

/// `mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 0`.
fn tcp_options(o: &[u8], rel_ack: u32) -> String {
    use crate::wire::tcp::{TcpOption as O, options};
    let hexs = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    options(o)
        .map(|opt| match opt {
            O::Eol => "eol".into(),
            O::Nop => "nop".into(),
            O::Mss(m) => format!("mss {m}"),
            O::WindowScale(w) => format!("wscale {w}"),
            O::SackPermitted => "sackOK".into(),
            O::Sack(d) => {
                let mut s = format!("sack {} ", d.len() / 8);
                for c in d.chunks(8) {
                    let (a, b) = (be32(c, 0).unwrap_or(0), be32(c, 4).unwrap_or(0));
                    s += &format!("{{{}:{}}}", a.wrapping_sub(rel_ack), b.wrapping_sub(rel_ack));
                }
                s
            }
            O::Timestamp(val, ecr) => format!("TS val {val} ecr {ecr}"),
            O::Unknown(k, []) => format!("unknown-{k}"),
            O::Unknown(k, d) => format!("unknown-{k} 0x{}", hexs(d)),
            O::Malformed => "[bad opt]".into(),
        })
        .collect::<Vec<String>>()
        .join(",")
}

fn arp(n: &[u8]) -> String {
    let Some(a) = crate::wire::arp::Packet::new_checked(n) else {
        return format!("[|ARP] length {}", n.len());
    };
    let (op, spa, tpa) = (a.operation(), a.sender_ip(), a.target_ip());
    let len = n.len();
    match op {
        1 => {
            let tha = a.target_hw();
            let who = if tha.iter().any(|&b| b != 0) {
                format!("{} ({})", Inet(tpa), ether_ntoa(&tha))
            } else {
                Inet(tpa).to_string()
            };
            format!("Request who-has {who} tell {}, length {len}", Inet(spa))
        }
        2 => format!("Reply {} is-at {}, length {len}", Inet(spa), ether_ntoa(&a.sender_hw())),
        o => format!("Unknown ({o}), length {len}"),
    }
}

fn icmp_text(b: &[u8]) -> String {
    let Some(msg) = crate::wire::icmp::Packet::new_checked(b) else {
        return "[|icmp]".into();
    };
    let (t, code) = (msg.msg_type(), msg.code());
    let inner = msg.data();
    let quote = Packet::new_checked(inner).ok();
    let qdst = quote.map(|q| Inet(q.dst_addr()));
    match t {
        icmp::ICMP_ECHO | icmp::ICMP_ECHOREPLY => format!(
            "echo {}, id {}, seq {}",
            if t == icmp::ICMP_ECHO { "request" } else { "reply" },
            msg.echo_ident(),
            msg.echo_seq_no()
        ),
        icmp::ICMP_UNREACH => {
            let d = qdst.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
            let qp = quote.map_or(0, |q| q.protocol());
            let qport = quote
                .filter(|q| q.payload().len() >= 4)
                .map_or(0, |q| crate::wire::udp::Packet::new_unchecked(q.payload()).dst_port());
            match code {
                0 => format!("net {d} unreachable"),
                1 => format!("host {d} unreachable"),
                2 => format!("{d} protocol {qp} unreachable"),
                3 => {
                    let pr = if qp == IPPROTO_TCP { "tcp" } else { "udp" };
                    format!("{d} {pr} port {qport} unreachable")
                }
                4 => format!("{d} unreachable - need to frag (mtu {})", msg.next_mtu()),
                13 => format!("host {d} unreachable - admin prohibited filter"),
                c => format!("{d} unreachable - code {c}"),
            }
        }
        icmp::ICMP_TIMXCEED if code == 1 => "ip reassembly time exceeded".into(),
        icmp::ICMP_TIMXCEED => "time exceeded in-transit".into(),
        icmp::ICMP_REDIRECT => format!(
            "redirect {} to host {}",
            qdst.map(|a| a.to_string()).unwrap_or_default(),
            Inet(msg.gateway())
        ),
        icmp::ICMP_SOURCEQUENCH => "source quench".into(),
        icmp::ICMP_PARAMPROB => format!("parameter problem - octet {}", msg.pointer()),
        icmp::ICMP_TSTAMP => "time stamp query".into(),
        icmp::ICMP_TSTAMPREPLY => "time stamp reply".into(),
        t => format!("type-#{t}"),
    }
}

/// The `-x`/`-X`/`-A` dump of `d` (print.c's hex_and_ascii_print), each
/// line after a newline and a tab; then the line's end.
fn dump(kind: Dump, d: &[u8]) -> String {
    let mut s = String::new();
    match kind {
        Dump::None => {}
        Dump::Hex | Dump::HexAscii => {
            for (i, c) in d.chunks(16).enumerate() {
                let hex: String = c
                    .chunks(2)
                    .map(|p| match p {
                        [a, b] => format!(" {a:02x}{b:02x}"),
                        [a] => format!(" {a:02x}"),
                        _ => String::new(),
                    })
                    .collect();
                if kind == Dump::Hex {
                    s += &format!("\n\t0x{:04x}: {hex}", i * 16);
                } else {
                    let ascii: String = c
                        .iter()
                        .map(|&b| if (0x21..0x7f).contains(&b) { b as char } else { '.' })
                        .collect();
                    s += &format!("\n\t0x{:04x}: {hex:<40}  {ascii}", i * 16);
                }
            }
        }
        Dump::Ascii => {
            s.push('\n');
            let mut it = d.iter().peekable();
            while let Some(&b) = it.next() {
                match b {
                    b'\r' if it.peek().is_none_or(|&&n| n == b'\n') => {}
                    b'\t' | b' ' | b'\n' => s.push(b as char),
                    0x21..=0x7e => s.push(b as char),
                    _ => s.push('.'),
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_frames_do_not_panic() {
        let frame = [0u8; 64];
        let mut p = Printer::new(Opts {
            verbose: 1,
            dump: Dump::HexAscii,
            ..Opts::default()
        });
        for n in 0..frame.len() {
            let _ = p.line(Duration::ZERO, LinkType::Ether, &frame[..n]);
            let _ = p.line(Duration::ZERO, LinkType::Null, &frame[..n]);
        }
        let mut f = vec![0u8; 14];
        f[12] = 8;
        let mut ip = vec![0x45u8, 0, 0, 60, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip.extend_from_slice(&[0u8; 12]);
        ip.extend_from_slice(&[0xa0, 0x12, 0, 0, 0, 0, 0, 0, 2, 9, 3, 3]);
        f.extend_from_slice(&ip);
        for n in 0..f.len() {
            let _ = p.line(Duration::ZERO, LinkType::Ether, &f[..n]);
        }
        // Random bytes behind valid-looking headers.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut g = f.clone();
            for b in g.iter_mut().skip(14) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(3) {
                    *b = x as u8;
                }
            }
            g.truncate(14 + (x % 60) as usize);
            p.o.verbose = (x % 3) as u8;
            let _ = p.line(Duration::ZERO, LinkType::Ether, &g);
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
        let mut p = Printer::default();
        assert_eq!(
            p.decode(LinkType::Ether, &f),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
        );
        p.o.eflag = true;
        assert_eq!(
            p.decode(LinkType::Ether, &f),
            "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
        );
    }

    /// Frames the Linux kernel sent, and what tcpdump 4.99 printed.
    #[test]
    fn ipv6_lines_are_tcpdumps() {
        let frames = [
            (
                "6000000000380001fe8000000000000094a0a0fffedfe8acff0200000000000000000000000000163a000502000001008f0068350000000204000000ff0200000000000000000001ffdfe8ac04000000ff0200000000000000000001ff000001",
                "IP6 fe80::94a0:a0ff:fedf:e8ac > ff02::16: HBH ICMP6, multicast listener report v2, 2 group record(s), length 48",
            ),
            (
                "6000000000103afffe8000000000000094a0a0fffedfe8acff02000000000000000000000000000285003ed400000000010196a0a0dfe8ac",
                "IP6 fe80::94a0:a0ff:fedf:e8ac > ff02::2: ICMP6, router solicitation, length 16",
            ),
            (
                "6000000000203aff20010db8000000000000000000000001ff0200000000000000000001ff0000028700fdfa0000000020010db8000000000000000000000002010196a0a0dfe8ac",
                "IP6 2001:db8::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has 2001:db8::2, length 32",
            ),
            (
                "6000000000203aff20010db800000000000000000000000220010db80000000000000000000000018800ed5b6000000020010db8000000000000000000000002020186b8d034482a",
                "IP6 2001:db8::2 > 2001:db8::1: ICMP6, neighbor advertisement, tgt is 2001:db8::2, length 32",
            ),
            (
                "600cddaa00103a4020010db800000000000000000000000120010db80000000000000000000000028000da5b3dd300010001020304050607",
                "IP6 2001:db8::1 > 2001:db8::2: ICMP6, echo request, id 15827, seq 1, length 16",
            ),
        ];
        let mut p = Printer::default();
        for (hex, want) in frames {
            let mut f = vec![
                0x33, 0x33, 0, 0, 0, 0x16, 0x96, 0xa0, 0xa0, 0xdf, 0xe8, 0xac, 0x86, 0xdd,
            ];
            f.extend(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")),
            );
            assert_eq!(p.decode(LinkType::Ether, &f), want);
            for n in 14..f.len() {
                let _ = p.decode(LinkType::Ether, &f[..n]);
            }
        }
        // -v: the header as tcpdump puts it (the flow label only if set).
        p.o.verbose = 1;
        let mut f = vec![0u8; 12];
        f.extend([0x86, 0xdd]);
        let echo = frames[4].0;
        f.extend(
            (0..echo.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&echo[i..i + 2], 16).expect("hex")),
        );
        assert!(
            p.decode(LinkType::Ether, &f)
                .starts_with("IP6 (flowlabel 0xcddaa, hlim 64, next-header ICMPv6 (58) payload length: 16) 2001:db8::1 > 2001:db8::2: "),
            "{}",
            p.decode(LinkType::Ether, &f)
        );
    }

    #[test]
    fn dates_and_dumps() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_788), (2026, 12, 1));
        assert_eq!(
            dump(Dump::HexAscii, b"E\0\0T\x124@\0@\x01\0\0\n\0\0\x01xyz"),
            "\n\t0x0000:  4500 0054 1234 4000 4001 0000 0a00 0001  E..T.4@.@.......\n\t0x0010:  7879 7a                                  xyz"
        );
        assert_eq!(dump(Dump::Ascii, b"GET / HTTP/1.1\r\nx\x01"), "\nGET / HTTP/1.1\nx.");
    }
}
