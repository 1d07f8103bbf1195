//! ICMPv6 messages (RFC 4443) as bytes, with the neighbour discovery
//! messages (RFC 4861 §4) and their options (§4.6): a view in the manner
//! of smoltcp's `wire`.

use std::net::{IpAddr, Ipv6Addr};

use super::{be16, be32};
use crate::wire::checksum::{fold, pseudo, sum};
use crate::wire::ipv6::{IPPROTO_ICMPV6, addr};

pub const ICMP6_DST_UNREACH: u8 = 1;
pub const ICMP6_PACKET_TOO_BIG: u8 = 2;
pub const ICMP6_TIME_EXCEEDED: u8 = 3;
pub const ICMP6_PARAM_PROB: u8 = 4;
pub const ICMP6_ECHO_REQUEST: u8 = 128;
pub const ICMP6_ECHO_REPLY: u8 = 129;
pub const MLD_LISTENER_QUERY: u8 = 130;
pub const MLD_LISTENER_REPORT: u8 = 131;
pub const MLD_LISTENER_DONE: u8 = 132;
pub const ND_ROUTER_SOLICIT: u8 = 133;
pub const ND_ROUTER_ADVERT: u8 = 134;
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
pub const ND_REDIRECT: u8 = 137;
pub const MLDV2_LISTENER_REPORT: u8 = 143;
// MLDv2 record types (RFC 3810 §5.2.12).
pub const MLD2_MODE_IS_EXCLUDE: u8 = 2;
pub const MLD2_CHANGE_TO_INCLUDE: u8 = 3;
pub const MLD2_CHANGE_TO_EXCLUDE: u8 = 4;

pub const ICMP6_DST_UNREACH_NOROUTE: u8 = 0;
pub const ICMP6_DST_UNREACH_ADMIN: u8 = 1;
pub const ICMP6_DST_UNREACH_BEYONDSCOPE: u8 = 2;
pub const ICMP6_DST_UNREACH_ADDR: u8 = 3;
pub const ICMP6_DST_UNREACH_NOPORT: u8 = 4;
pub const ICMP6_TIME_EXCEED_TRANSIT: u8 = 0;
pub const ICMP6_TIME_EXCEED_REASSEMBLY: u8 = 1;
pub const ICMP6_PARAMPROB_HEADER: u8 = 0;
pub const ICMP6_PARAMPROB_NEXTHEADER: u8 = 1;
pub const ICMP6_PARAMPROB_OPTION: u8 = 2;

/// Neighbour advertisement flags (§4.4).
pub const ND_NA_FLAG_ROUTER: u8 = 0x80;
pub const ND_NA_FLAG_SOLICITED: u8 = 0x40;
pub const ND_NA_FLAG_OVERRIDE: u8 = 0x20;
/// Router advertisement flags (§4.2).
pub const ND_RA_FLAG_MANAGED: u8 = 0x80;
pub const ND_RA_FLAG_OTHER: u8 = 0x40;

pub const ND_OPT_SOURCE_LINKADDR: u8 = 1;
pub const ND_OPT_TARGET_LINKADDR: u8 = 2;
pub const ND_OPT_PREFIX_INFORMATION: u8 = 3;
pub const ND_OPT_REDIRECTED_HEADER: u8 = 4;
pub const ND_OPT_MTU: u8 = 5;
pub const ND_OPT_NONCE: u8 = 14;
/// Prefix information flags (§4.6.2).
pub const ND_OPT_PI_FLAG_ONLINK: u8 = 0x80;
pub const ND_OPT_PI_FLAG_AUTO: u8 = 0x40;

/// The fixed part of every message: type, code, checksum, 4 more bytes.
pub const ICMP6_HDR_LEN: usize = 8;

/// A view over an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view once the fixed part is whole, and a neighbour discovery
    /// message's fixed fields too (RFC 4861 §6.1.1, §7.1.1).
    pub fn new_checked(buffer: T) -> Option<Packet<T>> {
        let p = Packet { buffer };
        let len = p.buffer.as_ref().len();
        (len >= ICMP6_HDR_LEN && len >= nd_fixed_len(p.msg_type())).then_some(p)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..4])
    }

    /// The checksum over the pseudo-header of `src` and `dst` is right.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        fold(sum(ph(src, dst, b.len()), b)) == 0
    }

    /// An echo's identifier and sequence number.
    pub fn echo_ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[4..6])
    }

    pub fn echo_seq(&self) -> u16 {
        be16(&self.buffer.as_ref()[6..8])
    }

    /// Packet too big's MTU, or parameter problem's pointer.
    pub fn param(&self) -> u32 {
        be32(&self.buffer.as_ref()[4..8])
    }

    /// What follows the fixed part: an echo's data, an error's quoted
    /// datagram.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[ICMP6_HDR_LEN..]
    }

    /// The target of a neighbour solicitation or advertisement, or a
    /// redirect's.
    pub fn target(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[8..24])
    }

    /// A redirect's destination.
    pub fn redirect_dst(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[24..40])
    }

    /// A neighbour advertisement's R, S and O flags.
    pub fn na_flags(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// A router advertisement's fields (§4.2).
    pub fn ra(&self) -> RaHdr {
        let b = self.buffer.as_ref();
        RaHdr {
            cur_hop_limit: b[4],
            flags: b[5],
            router_lifetime: be16(&b[6..8]),
            reachable: be32(&b[8..12]),
            retrans: be32(&b[12..16]),
        }
    }

    /// A neighbour discovery message's options, in order; `None` if one
    /// is malformed (zero length, or past the end): the whole message is
    /// then to be discarded (§4.6).
    pub fn nd_options(&self) -> Option<Vec<NdOpt<'_>>> {
        let b = self.buffer.as_ref();
        let start = nd_fixed_len(self.msg_type());
        nd_options(b.get(start..)?)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[0] = t;
    }

    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[1] = c;
    }

    pub fn set_echo_ident(&mut self, id: u16) {
        self.buffer.as_mut()[4..6].copy_from_slice(&id.to_be_bytes());
    }

    pub fn set_echo_seq(&mut self, seq: u16) {
        self.buffer.as_mut()[6..8].copy_from_slice(&seq.to_be_bytes());
    }

    /// Packet too big's MTU, or parameter problem's pointer.
    pub fn set_param(&mut self, p: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&p.to_be_bytes());
    }

    /// Compute the checksum between `src` and `dst`.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let b = self.buffer.as_mut();
        b[2..4].copy_from_slice(&[0, 0]);
        let c = fold(sum(ph(src, dst, b.len()), b));
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

fn ph(src: &Ipv6Addr, dst: &Ipv6Addr, len: usize) -> u32 {
    pseudo(IpAddr::V6(*src), IpAddr::V6(*dst), IPPROTO_ICMPV6, len as u32)
}

/// The bytes before a neighbour discovery message's options.
fn nd_fixed_len(t: u8) -> usize {
    match t {
        ND_ROUTER_SOLICIT => 8,
        ND_ROUTER_ADVERT => 16,
        ND_NEIGHBOR_SOLICIT | ND_NEIGHBOR_ADVERT => 24,
        ND_REDIRECT => 40,
        _ => ICMP6_HDR_LEN,
    }
}

/// A router advertisement's fixed fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaHdr {
    pub cur_hop_limit: u8,
    pub flags: u8,
    /// Seconds; 0: not a default router.
    pub router_lifetime: u16,
    /// Milliseconds; 0: unspecified.
    pub reachable: u32,
    pub retrans: u32,
}

/// A prefix information option (§4.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixInfo {
    pub plen: u8,
    pub flags: u8,
    /// Seconds; all ones is infinity.
    pub valid: u32,
    pub preferred: u32,
    pub prefix: Ipv6Addr,
}

/// A neighbour discovery option, read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdOpt<'a> {
    SourceLinkAddr([u8; 6]),
    TargetLinkAddr([u8; 6]),
    PrefixInfo(PrefixInfo),
    Mtu(u32),
    /// What a redirect quotes of the datagram that caused it.
    Redirected(&'a [u8]),
    /// One this stack does not know, or a known one of the wrong length
    /// (skipped, as §4.6 asks).
    Other(u8, &'a [u8]),
}

/// The options in `b`: type, length in 8-byte units, body; `None` for a
/// zero length or one past the end.
pub fn nd_options(b: &[u8]) -> Option<Vec<NdOpt<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let (t, units) = (b[i], *b.get(i + 1)? as usize);
        if units == 0 || i + units * 8 > b.len() {
            return None;
        }
        let o = &b[i..i + units * 8];
        out.push(match (t, units) {
            (ND_OPT_SOURCE_LINKADDR, 1) => NdOpt::SourceLinkAddr(mac(&o[2..8])),
            (ND_OPT_TARGET_LINKADDR, 1) => NdOpt::TargetLinkAddr(mac(&o[2..8])),
            (ND_OPT_PREFIX_INFORMATION, 4) => NdOpt::PrefixInfo(PrefixInfo {
                plen: o[2],
                flags: o[3],
                valid: be32(&o[4..8]),
                preferred: be32(&o[8..12]),
                prefix: addr(&o[16..32]),
            }),
            (ND_OPT_MTU, 1) => NdOpt::Mtu(be32(&o[4..8])),
            (ND_OPT_REDIRECTED_HEADER, _) => NdOpt::Redirected(&o[8..]),
            _ => NdOpt::Other(t, &o[2..]),
        });
        i += units * 8;
    }
    Some(out)
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    m
}

/// A neighbour solicitation or advertisement (§4.3, §4.4) for `target`
/// with an advertisement's R, S, O `flags`, and a link-layer address
/// option (source for a solicitation, target for an advertisement) if
/// `lladdr` is given; the checksum is left to `fill_checksum`.
pub fn nd_emit(t: u8, flags: u8, target: &Ipv6Addr, lladdr: Option<[u8; 6]>) -> Vec<u8> {
    let mut b = vec![0u8; 24 + if lladdr.is_some() { 8 } else { 0 }];
    b[0] = t;
    if t == ND_NEIGHBOR_ADVERT {
        b[4] = flags;
    }
    b[8..24].copy_from_slice(&target.octets());
    if let Some(mac) = lladdr {
        b[24] = if t == ND_NEIGHBOR_ADVERT {
            ND_OPT_TARGET_LINKADDR
        } else {
            ND_OPT_SOURCE_LINKADDR
        };
        b[25] = 1;
        b[26..32].copy_from_slice(&mac);
    }
    b
}

/// A router solicitation (§4.1), with the sender's link-layer address
/// unless it has no address yet (then it must not, §4.1); the checksum
/// is left to `fill_checksum`.
pub fn rs_emit(lladdr: Option<[u8; 6]>) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b[0] = ND_ROUTER_SOLICIT;
    if let Some(mac) = lladdr {
        b.extend_from_slice(&[ND_OPT_SOURCE_LINKADDR, 1]);
        b.extend_from_slice(&mac);
    }
    b
}

/// A router advertisement (§4.2): its fixed fields, then the source
/// link-layer address, the MTU and the prefixes as options.
pub fn ra_emit(h: &RaHdr, lladdr: Option<[u8; 6]>, mtu: Option<u32>, prefixes: &[PrefixInfo]) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[0] = ND_ROUTER_ADVERT;
    b[4] = h.cur_hop_limit;
    b[5] = h.flags;
    b[6..8].copy_from_slice(&h.router_lifetime.to_be_bytes());
    b[8..12].copy_from_slice(&h.reachable.to_be_bytes());
    b[12..16].copy_from_slice(&h.retrans.to_be_bytes());
    if let Some(mac) = lladdr {
        b.extend_from_slice(&[ND_OPT_SOURCE_LINKADDR, 1]);
        b.extend_from_slice(&mac);
    }
    if let Some(mtu) = mtu {
        b.extend_from_slice(&[ND_OPT_MTU, 1, 0, 0]);
        b.extend_from_slice(&mtu.to_be_bytes());
    }
    for p in prefixes {
        let at = b.len();
        b.resize(at + 32, 0);
        emit_prefix_opt(&mut b[at..], p);
    }
    b
}

/// A redirect (§4.5): `dst` is better reached through `target` (a
/// router's link-local address, or `dst` itself when it is on-link),
/// with the target's link-layer address if known and as much of the
/// datagram that caused it as fits in the IPv6 minimum MTU (§8.2); the
/// checksum is left to `fill_checksum`.
pub fn redirect_emit(target: &Ipv6Addr, dst: &Ipv6Addr, lladdr: Option<[u8; 6]>, quote: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 40];
    b[0] = ND_REDIRECT;
    b[8..24].copy_from_slice(&target.octets());
    b[24..40].copy_from_slice(&dst.octets());
    if let Some(mac) = lladdr {
        b.extend_from_slice(&[ND_OPT_TARGET_LINKADDR, 1]);
        b.extend_from_slice(&mac);
    }
    // 1280, less the IPv6 header, this message so far and the option's 8.
    let room = (1280 - 40 - b.len() - 8) & !7;
    let q = &quote[..quote.len().min(room)];
    if !q.is_empty() {
        let units = q.len().div_ceil(8) + 1;
        let at = b.len();
        b.resize(at + units * 8, 0);
        b[at] = ND_OPT_REDIRECTED_HEADER;
        b[at + 1] = units as u8;
        b[at + 8..at + 8 + q.len()].copy_from_slice(q);
    }
    b
}

/// An MLDv2 listener report (RFC 3810 §5.2): one record, with no
/// sources, per (record type, group); the checksum is left to
/// `fill_checksum`.
pub fn mldv2_report_emit(records: &[(u8, Ipv6Addr)]) -> Vec<u8> {
    let mut b = vec![0u8; 8];
    b[0] = MLDV2_LISTENER_REPORT;
    b[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    for (t, g) in records {
        b.extend_from_slice(&[*t, 0, 0, 0]);
        b.extend_from_slice(&g.octets());
    }
    b
}

/// A listener query's maximum response delay in milliseconds and its
/// group (unspecified: a general query), MLDv1 or v2 (RFC 3810 §5.1.3:
/// a code of 32768 or more is in floating point).
pub fn mld_query(b: &[u8]) -> Option<(u32, Ipv6Addr)> {
    let code = u32::from(u16::from_be_bytes(b.get(4..6)?.try_into().ok()?));
    let group = Ipv6Addr::from(<[u8; 16]>::try_from(b.get(8..24)?).ok()?);
    let ms = if code < 32768 {
        code
    } else {
        ((code & 0x0fff) | 0x1000) << (((code >> 12) & 7) + 3)
    };
    Some((ms, group))
}

/// Write a prefix information option (32 bytes) into `b`.
pub fn emit_prefix_opt(b: &mut [u8], p: &PrefixInfo) {
    b[0] = ND_OPT_PREFIX_INFORMATION;
    b[1] = 4;
    b[2] = p.plen;
    b[3] = p.flags;
    b[4..8].copy_from_slice(&p.valid.to_be_bytes());
    b[8..12].copy_from_slice(&p.preferred.to_be_bytes());
    b[12..16].copy_from_slice(&[0; 4]);
    b[16..32].copy_from_slice(&p.prefix.octets());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6;

    use crate::wire::hex;

    /// Linux's neighbour solicitation for 2001:db8::2 and the answer.
    const NS: &str = "6000000000203aff20010db8000000000000000000000001ff0200000000000000000001ff0000028700fdfa0000000020010db8000000000000000000000002010196a0a0dfe8ac";
    const NA: &str = "6000000000203aff20010db800000000000000000000000220010db80000000000000000000000018800ed5b6000000020010db8000000000000000000000002020186b8d034482a";
    const ECHO: &str = "600cddaa00103a4020010db800000000000000000000000120010db80000000000000000000000028000da5b3dd300010001020304050607";
    const RS: &str = "6000000000103afffe8000000000000094a0a0fffedfe8acff02000000000000000000000000000285003ed400000000010196a0a0dfe8ac";

    fn msg(s: &str) -> (Vec<u8>, Ipv6Addr, Ipv6Addr) {
        let d = hex(s);
        let ip = ipv6::Packet::new_checked(&d[..]).expect("valid").repr();
        (d[40..].to_vec(), ip.src, ip.dst)
    }

    #[test]
    fn linux_neighbour_discovery_reads_and_checksums() {
        let (ns, src, dst) = msg(NS);
        let p = Packet::new_checked(&ns[..]).expect("whole");
        assert!(p.verify_checksum(&src, &dst));
        assert_eq!(p.msg_type(), ND_NEIGHBOR_SOLICIT);
        assert_eq!(p.target(), "2001:db8::2".parse::<Ipv6Addr>().expect("address"));
        assert_eq!(
            p.nd_options(),
            Some(vec![NdOpt::SourceLinkAddr([0x96, 0xa0, 0xa0, 0xdf, 0xe8, 0xac])])
        );
        let (na, src, dst) = msg(NA);
        let p = Packet::new_checked(&na[..]).expect("whole");
        assert!(p.verify_checksum(&src, &dst));
        assert_eq!(p.na_flags(), ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE);
        assert_eq!(
            p.nd_options(),
            Some(vec![NdOpt::TargetLinkAddr([0x86, 0xb8, 0xd0, 0x34, 0x48, 0x2a])])
        );
        let (rs, src, dst) = msg(RS);
        let p = Packet::new_checked(&rs[..]).expect("whole");
        assert!(p.verify_checksum(&src, &dst));
        assert_eq!(p.nd_options().map(|o| o.len()), Some(1));
    }

    #[test]
    fn a_redirect_carries_its_target_and_no_more_of_the_datagram_than_fits() {
        let (t, d): (Ipv6Addr, Ipv6Addr) = ("fe80::2".parse().expect("a"), "2001:db8:9::1".parse().expect("a"));
        let mac = [2, 0, 0, 0, 0, 2];
        let (echo, _, _) = msg(ECHO);
        let r = redirect_emit(&t, &d, Some(mac), &hex(ECHO));
        let p = Packet::new_checked(&r[..]).expect("whole");
        assert_eq!((p.msg_type(), p.target(), p.redirect_dst()), (ND_REDIRECT, t, d));
        // The 56-byte datagram padded to 8s after the option's 8.
        assert_eq!(r.len(), 40 + 8 + 8 + 56);
        let opts = p.nd_options().expect("options");
        assert_eq!(opts[0], NdOpt::TargetLinkAddr(mac));
        let NdOpt::Redirected(q) = opts[1] else {
            panic!("{opts:?}")
        };
        assert_eq!(&q[40..], &echo[..]);
        // A big one is cut: the whole datagram stays within 1280 bytes.
        let big = vec![0x60; 2000];
        let r = redirect_emit(&t, &d, None, &big);
        assert_eq!(40 + r.len(), 1280);
        assert_eq!(r.len() % 8, 0);
    }

    #[test]
    fn a_solicitation_and_an_advertisement_written_here_read_back() {
        // Linux's router solicitation, byte for byte.
        let (rs, src, dst) = msg(RS);
        let mut b = rs_emit(Some([0x96, 0xa0, 0xa0, 0xdf, 0xe8, 0xac]));
        Packet::new_unchecked(&mut b[..]).fill_checksum(&src, &dst);
        assert_eq!(b, rs);
        assert_eq!(rs_emit(None).len(), 8, "no link-layer option from ::");
        let hdr = RaHdr {
            cur_hop_limit: 64,
            flags: ND_RA_FLAG_OTHER,
            router_lifetime: 1800,
            reachable: 0,
            retrans: 0,
        };
        let pi = PrefixInfo {
            plen: 64,
            flags: ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO,
            valid: u32::MAX,
            preferred: 604_800,
            prefix: "2001:db8:1::".parse().expect("addr"),
        };
        let ra = ra_emit(&hdr, Some([2, 0, 0, 0, 3, 11]), Some(1400), &[pi]);
        assert_eq!(ra.len(), 16 + 8 + 8 + 32);
        let p = Packet::new_checked(&ra[..]).expect("whole");
        assert_eq!(p.ra(), hdr);
        assert_eq!(
            p.nd_options(),
            Some(vec![
                NdOpt::SourceLinkAddr([2, 0, 0, 0, 3, 11]),
                NdOpt::Mtu(1400),
                NdOpt::PrefixInfo(pi)
            ])
        );
    }

    #[test]
    fn an_echo_written_here_is_the_one_linux_sent() {
        let (echo, src, dst) = msg(ECHO);
        let p = Packet::new_checked(&echo[..]).expect("whole");
        assert_eq!(
            (p.msg_type(), p.echo_ident(), p.echo_seq()),
            (ICMP6_ECHO_REQUEST, 0x3dd3, 1)
        );
        let mut mine = echo.clone();
        mine[2..4].copy_from_slice(&[0x12, 0x34]);
        Packet::new_unchecked(&mut mine[..]).fill_checksum(&src, &dst);
        assert_eq!(mine, echo);
        assert!(!p.verify_checksum(&dst, &"2001:db8::3".parse().expect("address")));
    }

    #[test]
    fn malformed_options_condemn_the_message() {
        let (mut ns, _, _) = msg(NS);
        ns[25] = 0;
        assert_eq!(
            Packet::new_checked(&ns[..]).expect("whole").nd_options(),
            None,
            "zero length"
        );
        ns[25] = 2;
        assert_eq!(
            Packet::new_checked(&ns[..]).expect("whole").nd_options(),
            None,
            "past the end"
        );
        assert!(Packet::new_checked(&ns[..20]).is_none(), "no room for the target");
        let mut pi = [0u8; 32];
        let p = PrefixInfo {
            plen: 64,
            flags: ND_OPT_PI_FLAG_ONLINK | ND_OPT_PI_FLAG_AUTO,
            valid: 2592000,
            preferred: 604800,
            prefix: "2001:db8:1::".parse().expect("address"),
        };
        emit_prefix_opt(&mut pi, &p);
        assert_eq!(nd_options(&pi), Some(vec![NdOpt::PrefixInfo(p)]));
        assert_eq!(
            nd_options(&[ND_OPT_MTU, 2, 0, 0, 0, 0, 5, 220, 0, 0, 0, 0, 0, 0, 0, 0]).map(|v| v.len()),
            Some(1)
        );
    }
}
