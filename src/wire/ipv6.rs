//! IPv6 datagrams (RFC 8200) as bytes: a view with named fields and its
//! `Repr`, in the manner of smoltcp's `wire`, and the extension headers
//! (§4): a walk over a chain of any length that ends at the upper-layer
//! header, with the fragment header (§4.5) and the options of hop-by-hop
//! and destination options headers (§4.2) read on the way.

use std::net::Ipv6Addr;

use super::be16;

/// The fixed header's length.
pub const IP6_HDR_LEN: usize = 40;

pub const IPPROTO_HOPOPTS: u8 = 0;
pub const IPPROTO_ROUTING: u8 = 43;
pub const IPPROTO_FRAGMENT: u8 = 44;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_NONE: u8 = 59;
pub const IPPROTO_DSTOPTS: u8 = 60;

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Why bytes are not an IPv6 datagram (the counters of `ip6stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip6Err {
    /// Shorter than the header (`ip6s_tooshort`, `ip6s_toosmall`).
    TooShort,
    /// Not version 6 (`ip6s_badvers`).
    BadVersion,
    /// The payload length runs past the bytes (`ip6s_tooshort`).
    BadLen,
    /// An extension header runs past the datagram, or an option past
    /// its header (`ip6s_toosmall`; a parameter problem at `pointer`).
    BadExt { pointer: usize },
}

/// A view over the bytes of an IPv6 datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view, once the header is whole, of version 6, and the payload
    /// length within the bytes (bytes after it, a link's padding, stay
    /// outside [`Packet::payload`]).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Ip6Err> {
        let p = Packet { buffer };
        let b = p.buffer.as_ref();
        if b.len() < IP6_HDR_LEN {
            return Err(Ip6Err::TooShort);
        }
        if p.version() != 6 {
            return Err(Ip6Err::BadVersion);
        }
        if IP6_HDR_LEN + p.payload_len() as usize > b.len() {
            return Err(Ip6Err::BadLen);
        }
        Ok(p)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        let w = self.ver_tc_flow();
        (w >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000f_ffff
    }

    /// The bytes after the fixed header (extension headers included).
    pub fn payload_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// The payload: extension headers, then the upper layer's bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[IP6_HDR_LEN..IP6_HDR_LEN + self.payload_len() as usize]
    }

    /// The fields of the fixed header.
    pub fn repr(&self) -> Ipv6Repr {
        Ipv6Repr {
            src: self.src_addr(),
            dst: self.dst_addr(),
            next_header: self.next_header(),
            payload_len: self.payload_len(),
            hop_limit: self.hop_limit(),
            traffic_class: self.traffic_class(),
            flow_label: self.flow_label(),
        }
    }

    fn ver_tc_flow(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::VER_TC_FLOW])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_hop_limit(&mut self, h: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = h;
    }

    pub fn set_next_header(&mut self, n: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = n;
    }

    pub fn set_payload_len(&mut self, n: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&n.to_be_bytes());
    }

    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }
}

/// The address in 16 bytes of a header.
pub(crate) fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(b);
    Ipv6Addr::from(o)
}

/// The fixed header, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Write the fixed header into the first 40 bytes of `b`.
    pub fn emit(&self, b: &mut [u8]) {
        let w = (6u32 << 28) | ((self.traffic_class as u32) << 20) | (self.flow_label & 0x000f_ffff);
        b[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
        b[field::LENGTH].copy_from_slice(&self.payload_len.to_be_bytes());
        b[field::NXT_HDR] = self.next_header;
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SRC_ADDR].copy_from_slice(&self.src.octets());
        b[field::DST_ADDR].copy_from_slice(&self.dst.octets());
    }
}

/// A fragment header (§4.5), read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragHdr {
    /// The header that follows in the fragmentable part.
    pub next_header: u8,
    /// The offset of this fragment's data, in bytes (a multiple of 8).
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

impl FragHdr {
    pub const LEN: usize = 8;

    fn parse(b: &[u8]) -> FragHdr {
        let om = be16(&b[2..4]);
        FragHdr {
            next_header: b[0],
            offset: om & !7,
            more: om & 1 != 0,
            ident: super::be32(&b[4..8]),
        }
    }

    /// Write it into the first 8 bytes of `b`.
    pub fn emit(&self, b: &mut [u8]) {
        b[0] = self.next_header;
        b[1] = 0;
        b[2..4].copy_from_slice(&((self.offset & !7) | self.more as u16).to_be_bytes());
        b[4..8].copy_from_slice(&self.ident.to_be_bytes());
    }
}

/// What the walk over the extension headers found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtChain {
    /// The upper-layer protocol (or IPPROTO_NONE, or a header the walk
    /// stops at: a fragment's next header when it is not the first).
    pub proto: u8,
    /// The upper layer's bytes begin here, from the start of the
    /// datagram.
    pub off: usize,
    /// A fragment header on the way, and where it is.
    pub frag: Option<(usize, FragHdr)>,
    /// Where the next-header field that names the fragment header is
    /// (what reassembly rewrites).
    pub frag_nxt: usize,
    /// Where the next-header field that names `proto` is (a parameter
    /// problem's pointer when nobody takes it).
    pub nxt: usize,
    /// A routing header's type and segments left, and where it is.
    pub routing: Option<(usize, u8, u8)>,
    /// Hop-by-hop options came first (where they must be, §4.1).
    pub hbh: bool,
    /// The first option of a destination options header that is not
    /// padding and not to be skipped (§4.2: its action says what the
    /// destination does), and where it is.
    pub dst_unknown: Option<usize>,
}

/// Walk the extension headers of a datagram (`d` from its fixed header
/// on, its payload length checked) to the upper layer, as `ip6_input`
/// does header by header: hop-by-hop only first, each header's length
/// within the datagram; a fragment header that is not the first fragment
/// ends the walk there (what follows is another fragment's to tell).
/// Any number of headers; each costs at least 8 bytes, so the walk ends.
pub fn ext_walk(d: &[u8]) -> Result<ExtChain, Ip6Err> {
    let p = Packet::new_checked(d)?;
    let end = IP6_HDR_LEN + p.payload_len() as usize;
    let mut c = ExtChain {
        proto: p.next_header(),
        off: IP6_HDR_LEN,
        frag: None,
        frag_nxt: field::NXT_HDR,
        nxt: field::NXT_HDR,
        routing: None,
        hbh: false,
        dst_unknown: None,
    };
    let mut nxt_at = field::NXT_HDR;
    loop {
        match c.proto {
            IPPROTO_HOPOPTS | IPPROTO_DSTOPTS | IPPROTO_ROUTING => {
                if c.proto == IPPROTO_HOPOPTS && c.off != IP6_HDR_LEN {
                    // Hop-by-hop anywhere but first: unrecognized (§4.1).
                    return Err(Ip6Err::BadExt { pointer: nxt_at });
                }
                if c.off + 8 > end {
                    return Err(Ip6Err::BadExt { pointer: c.off });
                }
                let len = (d[c.off + 1] as usize + 1) * 8;
                if c.off + len > end {
                    return Err(Ip6Err::BadExt { pointer: c.off + 1 });
                }
                match c.proto {
                    IPPROTO_HOPOPTS => c.hbh = true,
                    IPPROTO_ROUTING => c.routing = Some((c.off, d[c.off + 2], d[c.off + 3])),
                    _ => {}
                }
                if c.proto != IPPROTO_ROUTING {
                    for o in options(&d[c.off + 2..c.off + len]) {
                        let o = o.map_err(|at| Ip6Err::BadExt {
                            pointer: c.off + 2 + at,
                        })?;
                        if c.proto == IPPROTO_DSTOPTS && c.dst_unknown.is_none() && opt_unknown_action(o.kind) != 0 {
                            c.dst_unknown = Some(c.off + 2 + o.at);
                        }
                    }
                }
                nxt_at = c.off;
                c.proto = d[c.off];
                c.off += len;
            }
            IPPROTO_FRAGMENT => {
                if c.off + FragHdr::LEN > end {
                    return Err(Ip6Err::BadExt { pointer: c.off });
                }
                let f = FragHdr::parse(&d[c.off..c.off + FragHdr::LEN]);
                c.frag = Some((c.off, f));
                c.frag_nxt = nxt_at;
                c.proto = f.next_header;
                c.off += FragHdr::LEN;
                nxt_at = c.off - FragHdr::LEN;
                if f.offset != 0 {
                    c.nxt = nxt_at;
                    return Ok(c);
                }
            }
            _ => {
                c.nxt = nxt_at;
                return Ok(c);
            }
        }
    }
}

/// The options of the options header at `at` (its length checked by
/// `ext_walk`), and where they begin.
pub fn ext_options(d: &[u8], at: usize) -> (&[u8], usize) {
    let len = d.get(at + 1).map_or(0, |l| (*l as usize + 1) * 8);
    (d.get(at + 2..at + len).unwrap_or(&[]), at + 2)
}

/// One option of a hop-by-hop or destination options header (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    pub kind: u8,
    pub data: &'a [u8],
    /// Where the option begins, from the start of the options.
    pub at: usize,
}

pub const IP6OPT_PAD1: u8 = 0;
pub const IP6OPT_PADN: u8 = 1;
pub const IP6OPT_ROUTER_ALERT: u8 = 5;

/// What to do with an option one does not know: the two high bits of
/// its type (§4.2): skip it, discard the datagram, or discard it and
/// send a parameter problem (always, or only to a unicast destination).
pub fn opt_unknown_action(kind: u8) -> u8 {
    kind >> 6
}

/// The options of an options header's body (after next header and
/// length), padding left out, without allocating; an `Err` with where
/// one runs past the end is the last.
pub fn options(b: &[u8]) -> impl Iterator<Item = Result<Opt<'_>, usize>> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if b[i] == IP6OPT_PAD1 {
                i += 1;
                continue;
            }
            let at = i;
            let Some(&len) = b.get(i + 1) else {
                i = b.len();
                return Some(Err(at));
            };
            let end = i + 2 + len as usize;
            if end > b.len() {
                i = b.len();
                return Some(Err(at + 1));
            }
            i = end;
            if b[at] != IP6OPT_PADN {
                return Some(Ok(Opt {
                    kind: b[at],
                    data: &b[at + 2..end],
                    at,
                }));
            }
        }
        None
    })
}

/// An address's scope (RFC 4291 §2.4, §2.7): link-local unicast and
/// multicast of link scope need a zone (the interface) to mean anything.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    s[0] & 0xffc0 == 0xfe80 || (s[0] & 0xff00 == 0xff00 && s[0] & 0x000f == 2)
}

/// Does the address need a zone (RFC 4007 §6): link-local unicast, or
/// multicast of interface- or link-local scope?
pub fn is_scoped(a: &Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    is_link_local(a) || (s0 & 0xff00 == 0xff00 && s0 & 0x000f == 1)
}

/// KAME's embedded scope (`in6_setscope`): inside the stack a scoped
/// address carries its zone, the interface index, in its second 16-bit
/// word, which is zero on the wire; so an address alone names where it
/// is. Unscoped addresses are left as they are.
pub fn in6_setscope(a: Ipv6Addr, zone: u32) -> Ipv6Addr {
    if !is_scoped(&a) {
        return a;
    }
    let mut s = a.segments();
    s[1] = zone as u16;
    Ipv6Addr::from(s)
}

/// The address as the wire carries it (`in6_clearscope`).
pub fn in6_clearscope(a: Ipv6Addr) -> Ipv6Addr {
    in6_setscope(a, 0)
}

/// The zone embedded in a scoped address, if any (`in6_getscope`).
pub fn in6_getscope(a: &Ipv6Addr) -> Option<u32> {
    let z = a.segments()[1];
    (is_scoped(a) && z != 0).then_some(z as u32)
}

/// The solicited-node multicast address of `a` (RFC 4291 §2.7.1).
pub fn solicited_node(a: &Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address a multicast address maps to (RFC 2464 §7).
pub fn multicast_mac(a: &Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The modified EUI-64 interface identifier of a MAC (RFC 4291 App. A).
pub fn eui64(mac: &[u8; 6]) -> [u8; 8] {
    [mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire::hex;

    /// An MLDv2 report as Linux sends it: a hop-by-hop header with the
    /// router alert option and PadN, then ICMPv6.
    const MLD: &str = "6000000000380001fe8000000000000094a0a0fffedfe8acff0200000000000000000000000000163a000502000001008f0068350000000204000000ff0200000000000000000001ffdfe8ac04000000ff0200000000000000000001ff000001";

    #[test]
    fn a_linux_datagram_reads_back_and_writes_the_same() {
        let d = hex(MLD);
        let p = Packet::new_checked(&d[..]).expect("valid");
        let r = p.repr();
        assert_eq!(
            (r.src, r.dst, r.next_header, r.payload_len, r.hop_limit),
            (
                "fe80::94a0:a0ff:fedf:e8ac".parse().expect("address"),
                "ff02::16".parse().expect("address"),
                IPPROTO_HOPOPTS,
                56,
                1
            )
        );
        let mut b = vec![0u8; 40];
        r.emit(&mut b);
        assert_eq!(b[..], d[..40]);
        let c = ext_walk(&d).expect("chain");
        assert_eq!((c.proto, c.off, c.hbh, c.frag), (IPPROTO_ICMPV6, 48, true, None));
        let opts: Vec<Opt> = options(&d[42..48]).collect::<Result<_, _>>().expect("options");
        assert_eq!(opts.len(), 1, "PadN is left out");
        assert_eq!((opts[0].kind, opts[0].data), (IP6OPT_ROUTER_ALERT, &[0, 0][..]));
    }

    #[test]
    fn bad_datagrams_and_chains_are_errors_that_point_at_the_fault() {
        let d = hex(MLD);
        assert_eq!(Packet::new_checked(&d[..39]).err(), Some(Ip6Err::TooShort));
        let mut v4 = d.clone();
        v4[0] = 0x45;
        assert_eq!(Packet::new_checked(&v4[..]).err(), Some(Ip6Err::BadVersion));
        assert_eq!(Packet::new_checked(&d[..90]).err(), Some(Ip6Err::BadLen));
        // The hop-by-hop header's length runs past the datagram.
        let mut long = d.clone();
        long[41] = 9;
        assert_eq!(ext_walk(&long), Err(Ip6Err::BadExt { pointer: 41 }));
        // An option running past its header.
        let mut opt = d.clone();
        opt[43] = 7;
        assert_eq!(ext_walk(&opt), Err(Ip6Err::BadExt { pointer: 43 }));
        // Hop-by-hop after a destination options header.
        let mut b = vec![0u8; 40 + 16];
        Ipv6Repr {
            payload_len: 16,
            traffic_class: 0,
            flow_label: 0,
            ..DOC
        }
        .emit(&mut b);
        b[40] = IPPROTO_HOPOPTS;
        b[48] = IPPROTO_NONE;
        assert_eq!(ext_walk(&b), Err(Ip6Err::BadExt { pointer: 40 }));
    }

    /// 2001:db8::1 to ::2, a destination options header first.
    const DOC: Ipv6Repr = Ipv6Repr {
        src: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
        next_header: IPPROTO_DSTOPTS,
        payload_len: 24,
        hop_limit: 64,
        traffic_class: 0xb8,
        flow_label: 0x12345,
    };

    #[test]
    fn a_chain_with_a_fragment_header() {
        let mut b = vec![0u8; 40 + 8 + 8 + 8];
        DOC.emit(&mut b);
        b[40] = IPPROTO_FRAGMENT;
        let f = FragHdr {
            next_header: 17,
            offset: 1232,
            more: true,
            ident: 0xdead_beef,
        };
        f.emit(&mut b[48..56]);
        let p = Packet::new_checked(&b[..]).expect("valid");
        assert_eq!((p.traffic_class(), p.flow_label()), (0xb8, 0x12345));
        let c = ext_walk(&b).expect("chain");
        assert_eq!((c.proto, c.off, c.frag), (17, 56, Some((48, f))));
    }

    #[test]
    fn addresses_derived_for_neighbour_discovery() {
        let a: Ipv6Addr = "2001:db8::2".parse().expect("address");
        assert_eq!(
            solicited_node(&a),
            "ff02::1:ff00:2".parse::<Ipv6Addr>().expect("address")
        );
        assert_eq!(multicast_mac(&solicited_node(&a)), [0x33, 0x33, 0xff, 0, 0, 2]);
        assert_eq!(
            eui64(&[0x96, 0xa0, 0xa0, 0xdf, 0xe8, 0xac]),
            [0x94, 0xa0, 0xa0, 0xff, 0xfe, 0xdf, 0xe8, 0xac]
        );
        assert!(is_link_local(&"fe80::1".parse().expect("address")));
        assert!(is_link_local(&"ff02::1".parse().expect("address")));
        assert!(!is_link_local(&a));
        assert_eq!(opt_unknown_action(0xc2), 3);
    }
}
