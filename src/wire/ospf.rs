//! OSPF version 2 packets and LSAs (RFC 2328 Appendix A) as bytes: the
//! 24-byte header (version, type, length, router ID, area, checksum,
//! authentication), the five packet types (Hello, Database Description,
//! Link State Request, Update, Acknowledgment), the 20-byte LSA header
//! and the bodies of router, network, summary and AS-external LSAs. A
//! `Repr` parses and emits a whole packet; an LSA stays as its bytes (it
//! is flooded as it came) with views over its header and body, and the
//! Fletcher checksum of §12.1.7.

use super::{be16, be32, checksum};

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const ROUTER_ID: Range<usize> = 4..8;
    pub const AREA_ID: Range<usize> = 8..12;
    pub const CHECKSUM: Range<usize> = 12..14;
    pub const AUTYPE: Range<usize> = 14..16;
    /// In an LSA header.
    pub const LS_AGE: Range<usize> = 0..2;
    pub const LS_OPTIONS: usize = 2;
    pub const LS_TYPE: usize = 3;
    pub const LS_ID: Range<usize> = 4..8;
    pub const LS_ADV: Range<usize> = 8..12;
    pub const LS_SEQ: Range<usize> = 12..16;
    pub const LS_CHECKSUM: Range<usize> = 16..18;
    pub const LS_LENGTH: Range<usize> = 18..20;
}

pub const OSPF_HDR_LEN: usize = 24;
pub const LSA_HDR_LEN: usize = 20;
pub const OSPF_HELLO: u8 = 1;
pub const OSPF_DD: u8 = 2;
pub const OSPF_LSR: u8 = 3;
pub const OSPF_LSU: u8 = 4;
pub const OSPF_ACK: u8 = 5;
/// LS types (§A.4.1).
pub const LSA_ROUTER: u8 = 1;
pub const LSA_NETWORK: u8 = 2;
pub const LSA_SUMMARY: u8 = 3;
pub const LSA_ASBR_SUMMARY: u8 = 4;
pub const LSA_EXTERNAL: u8 = 5;
/// The options' E bit: AS-external LSAs are flooded here (§A.2).
pub const OPT_E: u8 = 0x02;
/// DD flags (§A.3.3).
pub const DD_I: u8 = 0x04;
pub const DD_M: u8 = 0x02;
pub const DD_MS: u8 = 0x01;
/// Router LSA flags and link types (§A.4.2).
pub const ROUTER_B: u8 = 0x01;
pub const ROUTER_E: u8 = 0x02;
pub const LINK_P2P: u8 = 1;
pub const LINK_TRANSIT: u8 = 2;
pub const LINK_STUB: u8 = 3;
/// Architectural constants (Appendix B).
pub const MAX_AGE: u16 = 3600;
pub const MAX_AGE_DIFF: u16 = 900;
pub const INITIAL_SEQ: i32 = 0x8000_0001u32 as i32;
pub const MAX_SEQ: i32 = 0x7fff_ffff;

/// Why a packet or LSA was refused (ospfd counts it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OspfErr {
    #[error("packet length {0} is too short or disagrees with its header")]
    BadLen(usize),
    #[error("OSPF version {0} not supported")]
    BadVersion(u8),
    #[error("unknown OSPF packet type {0}")]
    BadType(u8),
    #[error("bad checksum")]
    BadChecksum,
    #[error("authentication type {0} not supported")]
    BadAuth(u16),
    #[error("malformed LSA")]
    BadLsa,
}

/// The 20-byte header of an LSA (§A.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LsaHdr {
    pub age: u16,
    pub options: u8,
    pub ls_type: u8,
    pub id: u32,
    pub adv: u32,
    pub seq: i32,
    pub checksum: u16,
    pub length: u16,
}

impl LsaHdr {
    pub fn parse(b: &[u8]) -> Result<LsaHdr, OspfErr> {
        if b.len() < LSA_HDR_LEN {
            return Err(OspfErr::BadLsa);
        }
        Ok(LsaHdr {
            age: be16(&b[field::LS_AGE]),
            options: b[field::LS_OPTIONS],
            ls_type: b[field::LS_TYPE],
            id: be32(&b[field::LS_ID]),
            adv: be32(&b[field::LS_ADV]),
            seq: be32(&b[field::LS_SEQ]) as i32,
            checksum: be16(&b[field::LS_CHECKSUM]),
            length: be16(&b[field::LS_LENGTH]),
        })
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.age.to_be_bytes());
        out.extend_from_slice(&[self.options, self.ls_type]);
        for x in [self.id, self.adv, self.seq as u32] {
            out.extend_from_slice(&x.to_be_bytes());
        }
        out.extend_from_slice(&self.checksum.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// What names an LSA: type, link state ID, advertising router.
    pub fn key(&self) -> LsaKey {
        (self.ls_type, self.id, self.adv)
    }
}

/// An LSA's identity (§12.1).
pub type LsaKey = (u8, u32, u32);

/// Is `a` a newer instance than `b` (§13.1)?
pub fn lsa_newer(a: &LsaHdr, b: &LsaHdr) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match a.seq.cmp(&b.seq).then(a.checksum.cmp(&b.checksum)) {
        Equal => {}
        o => return o,
    }
    match (a.age >= MAX_AGE, b.age >= MAX_AGE) {
        (true, false) => return Greater,
        (false, true) => return Less,
        _ => {}
    }
    if a.age.abs_diff(b.age) > MAX_AGE_DIFF {
        return b.age.cmp(&a.age);
    }
    Equal
}

/// An LSA: its bytes, header first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lsa {
    pub bytes: Vec<u8>,
}

impl Lsa {
    /// An LSA from the front of `b`: whole, and its checksum right.
    pub fn parse(b: &[u8]) -> Result<Lsa, OspfErr> {
        let h = LsaHdr::parse(b)?;
        let n = usize::from(h.length);
        if n < LSA_HDR_LEN || n > b.len() {
            return Err(OspfErr::BadLsa);
        }
        let lsa = Lsa { bytes: b[..n].to_vec() };
        if !lsa.checksum_ok() {
            return Err(OspfErr::BadChecksum);
        }
        Ok(lsa)
    }

    /// A new LSA of header `h` (its length and checksum filled in) and
    /// `body`.
    pub fn build(h: LsaHdr, body: &[u8]) -> Lsa {
        let mut bytes = Vec::with_capacity(LSA_HDR_LEN + body.len());
        LsaHdr {
            length: (LSA_HDR_LEN + body.len()) as u16,
            checksum: 0,
            ..h
        }
        .emit(&mut bytes);
        bytes.extend_from_slice(body);
        let c = fletcher(&bytes[2..], field::LS_CHECKSUM.start - 2);
        bytes[field::LS_CHECKSUM].copy_from_slice(&c);
        Lsa { bytes }
    }

    pub fn hdr(&self) -> LsaHdr {
        // The bytes were checked long enough when it was made.
        LsaHdr::parse(&self.bytes).unwrap_or(LsaHdr {
            age: MAX_AGE,
            options: 0,
            ls_type: 0,
            id: 0,
            adv: 0,
            seq: 0,
            checksum: 0,
            length: 0,
        })
    }

    pub fn body(&self) -> &[u8] {
        &self.bytes[LSA_HDR_LEN.min(self.bytes.len())..]
    }

    /// The age field is not under the checksum, so it changes freely.
    pub fn set_age(&mut self, age: u16) {
        self.bytes[field::LS_AGE].copy_from_slice(&age.min(MAX_AGE).to_be_bytes());
    }

    /// The Fletcher checksum over all but the age is right (§12.1.7).
    pub fn checksum_ok(&self) -> bool {
        let (mut c0, mut c1) = (0u32, 0u32);
        for &b in &self.bytes[2..] {
            c0 = (c0 + u32::from(b)) % 255;
            c1 = (c1 + c0) % 255;
        }
        c0 == 0 && c1 == 0
    }
}

/// The ISO 8473 Fletcher checksum of `b` to be written at `off` (its two
/// bytes zero in `b`), as RFC 905 Annex B computes it.
fn fletcher(b: &[u8], off: usize) -> [u8; 2] {
    let (mut c0, mut c1) = (0i64, 0i64);
    for &x in b {
        c0 = (c0 + i64::from(x)) % 255;
        c1 = (c1 + c0) % 255;
    }
    let mut x = ((b.len() - off - 1) as i64 * c0 - c1).rem_euclid(255);
    if x == 0 {
        x = 255;
    }
    let mut y = 510 - c0 - x;
    if y > 255 {
        y -= 255;
    }
    [x as u8, y as u8]
}

/// A link of a router LSA (§A.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterLink {
    pub id: u32,
    pub data: u32,
    pub kind: u8,
    pub metric: u16,
}

/// A router LSA's body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterLsa {
    pub flags: u8,
    pub links: Vec<RouterLink>,
}

impl RouterLsa {
    pub fn parse(b: &[u8]) -> Result<RouterLsa, OspfErr> {
        if b.len() < 4 {
            return Err(OspfErr::BadLsa);
        }
        let n = usize::from(be16(&b[2..4]));
        let mut links = Vec::with_capacity(n.min(b.len() / 12));
        let mut off = 4;
        for _ in 0..n {
            let l = b.get(off..off + 12).ok_or(OspfErr::BadLsa)?;
            links.push(RouterLink {
                id: be32(&l[0..4]),
                data: be32(&l[4..8]),
                kind: l[8],
                metric: be16(&l[10..12]),
            });
            // TOS metrics follow, 4 bytes each; TOS 0 is all we use.
            off += 12 + 4 * usize::from(l[9]);
        }
        Ok(RouterLsa { flags: b[0], links })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![self.flags, 0];
        v.extend_from_slice(&(self.links.len() as u16).to_be_bytes());
        for l in &self.links {
            v.extend_from_slice(&l.id.to_be_bytes());
            v.extend_from_slice(&l.data.to_be_bytes());
            v.extend_from_slice(&[l.kind, 0]);
            v.extend_from_slice(&l.metric.to_be_bytes());
        }
        v
    }
}

/// A network LSA's body (§A.4.3): the mask and the attached routers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkLsa {
    pub mask: u32,
    pub routers: Vec<u32>,
}

impl NetworkLsa {
    pub fn parse(b: &[u8]) -> Result<NetworkLsa, OspfErr> {
        if b.len() < 4 || !b.len().is_multiple_of(4) {
            return Err(OspfErr::BadLsa);
        }
        Ok(NetworkLsa {
            mask: be32(&b[0..4]),
            routers: b[4..].chunks(4).map(be32).collect(),
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        std::iter::once(self.mask)
            .chain(self.routers.iter().copied())
            .flat_map(u32::to_be_bytes)
            .collect()
    }
}

/// A summary (§A.4.4) or AS-external (§A.4.5) LSA's body: the mask and
/// TOS 0's metric; an external one also its type (E bit), forwarding
/// address and tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixLsa {
    pub mask: u32,
    pub metric: u32,
    /// AS-external: type 2 metric (E bit).
    pub e2: bool,
    pub forward: u32,
    pub tag: u32,
}

impl PrefixLsa {
    pub fn parse(b: &[u8]) -> Result<PrefixLsa, OspfErr> {
        if b.len() < 8 {
            return Err(OspfErr::BadLsa);
        }
        let word = be32(&b[4..8]);
        Ok(PrefixLsa {
            mask: be32(&b[0..4]),
            metric: word & 0x00ff_ffff,
            e2: word & 0x8000_0000 != 0,
            forward: b.get(8..12).map_or(0, be32),
            tag: b.get(12..16).map_or(0, be32),
        })
    }

    /// The body of an LSA of `ls_type` (3, 4 or 5).
    pub fn emit(&self, ls_type: u8) -> Vec<u8> {
        let word = (self.metric & 0x00ff_ffff) | if self.e2 { 0x8000_0000 } else { 0 };
        let mut v: Vec<u8> = [self.mask, word].iter().flat_map(|x| x.to_be_bytes()).collect();
        if ls_type == LSA_EXTERNAL {
            v.extend_from_slice(&self.forward.to_be_bytes());
            v.extend_from_slice(&self.tag.to_be_bytes());
        }
        v
    }
}

/// A Hello's body (§A.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub mask: u32,
    pub hello_interval: u16,
    pub options: u8,
    pub priority: u8,
    pub dead_interval: u32,
    pub dr: u32,
    pub bdr: u32,
    pub neighbors: Vec<u32>,
}

/// A Database Description's body (§A.3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dd {
    pub mtu: u16,
    pub options: u8,
    pub flags: u8,
    pub seq: u32,
    pub headers: Vec<LsaHdr>,
}

/// What a packet carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OspfBody {
    Hello(Hello),
    Dd(Dd),
    Lsr(Vec<LsaKey>),
    Lsu(Vec<Lsa>),
    Ack(Vec<LsaHdr>),
}

/// A whole OSPF packet, null authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OspfRepr {
    pub router_id: u32,
    pub area: u32,
    pub body: OspfBody,
}

impl OspfRepr {
    /// Parse a packet (the IP payload): header, checksum and body.
    pub fn parse(b: &[u8]) -> Result<OspfRepr, OspfErr> {
        if b.len() < OSPF_HDR_LEN {
            return Err(OspfErr::BadLen(b.len()));
        }
        if b[field::VERSION] != 2 {
            return Err(OspfErr::BadVersion(b[field::VERSION]));
        }
        let len = usize::from(be16(&b[field::LENGTH]));
        if len < OSPF_HDR_LEN || len > b.len() {
            return Err(OspfErr::BadLen(b.len()));
        }
        let b = &b[..len];
        let autype = be16(&b[field::AUTYPE]);
        if autype != 0 {
            return Err(OspfErr::BadAuth(autype));
        }
        // Null authentication: the checksum covers all but the 8 bytes
        // of authentication data (§D.4.1).
        let sum = checksum::sum(checksum::sum(0, &b[..16]), &b[OSPF_HDR_LEN..]);
        if checksum::fold(sum) != 0 {
            return Err(OspfErr::BadChecksum);
        }
        let d = &b[OSPF_HDR_LEN..];
        let body = match b[field::TYPE] {
            OSPF_HELLO => {
                if d.len() < 20 || !d.len().is_multiple_of(4) {
                    return Err(OspfErr::BadLen(len));
                }
                OspfBody::Hello(Hello {
                    mask: be32(&d[0..4]),
                    hello_interval: be16(&d[4..6]),
                    options: d[6],
                    priority: d[7],
                    dead_interval: be32(&d[8..12]),
                    dr: be32(&d[12..16]),
                    bdr: be32(&d[16..20]),
                    neighbors: d[20..].chunks(4).map(be32).collect(),
                })
            }
            OSPF_DD => {
                if d.len() < 8 || !(d.len() - 8).is_multiple_of(LSA_HDR_LEN) {
                    return Err(OspfErr::BadLen(len));
                }
                OspfBody::Dd(Dd {
                    mtu: be16(&d[0..2]),
                    options: d[2],
                    flags: d[3],
                    seq: be32(&d[4..8]),
                    headers: d[8..]
                        .chunks(LSA_HDR_LEN)
                        .map(LsaHdr::parse)
                        .collect::<Result<_, _>>()?,
                })
            }
            OSPF_LSR => {
                if !d.len().is_multiple_of(12) {
                    return Err(OspfErr::BadLen(len));
                }
                OspfBody::Lsr(d.chunks(12).map(|e| (e[3], be32(&e[4..8]), be32(&e[8..12]))).collect())
            }
            OSPF_LSU => {
                let n = d.get(0..4).map(be32).ok_or(OspfErr::BadLen(len))?;
                let mut lsas = Vec::new();
                let mut off = 4;
                for _ in 0..n {
                    let lsa = Lsa::parse(d.get(off..).ok_or(OspfErr::BadLsa)?)?;
                    off += lsa.bytes.len();
                    lsas.push(lsa);
                }
                OspfBody::Lsu(lsas)
            }
            OSPF_ACK => {
                if !d.len().is_multiple_of(LSA_HDR_LEN) {
                    return Err(OspfErr::BadLen(len));
                }
                OspfBody::Ack(d.chunks(LSA_HDR_LEN).map(LsaHdr::parse).collect::<Result<_, _>>()?)
            }
            t => return Err(OspfErr::BadType(t)),
        };
        Ok(OspfRepr {
            router_id: be32(&b[field::ROUTER_ID]),
            area: be32(&b[field::AREA_ID]),
            body,
        })
    }

    pub fn kind(&self) -> u8 {
        match self.body {
            OspfBody::Hello(_) => OSPF_HELLO,
            OspfBody::Dd(_) => OSPF_DD,
            OspfBody::Lsr(_) => OSPF_LSR,
            OspfBody::Lsu(_) => OSPF_LSU,
            OspfBody::Ack(_) => OSPF_ACK,
        }
    }

    /// The packet's bytes, length and checksum filled in.
    pub fn emit(&self) -> Vec<u8> {
        let mut v = vec![2, self.kind(), 0, 0];
        v.extend_from_slice(&self.router_id.to_be_bytes());
        v.extend_from_slice(&self.area.to_be_bytes());
        v.extend_from_slice(&[0; 12]);
        match &self.body {
            OspfBody::Hello(h) => {
                v.extend_from_slice(&h.mask.to_be_bytes());
                v.extend_from_slice(&h.hello_interval.to_be_bytes());
                v.extend_from_slice(&[h.options, h.priority]);
                for x in [h.dead_interval, h.dr, h.bdr].iter().chain(&h.neighbors) {
                    v.extend_from_slice(&x.to_be_bytes());
                }
            }
            OspfBody::Dd(d) => {
                v.extend_from_slice(&d.mtu.to_be_bytes());
                v.extend_from_slice(&[d.options, d.flags]);
                v.extend_from_slice(&d.seq.to_be_bytes());
                for h in &d.headers {
                    h.emit(&mut v);
                }
            }
            OspfBody::Lsr(keys) => {
                for &(t, id, adv) in keys {
                    for x in [u32::from(t), id, adv] {
                        v.extend_from_slice(&x.to_be_bytes());
                    }
                }
            }
            OspfBody::Lsu(lsas) => {
                v.extend_from_slice(&(lsas.len() as u32).to_be_bytes());
                for l in lsas {
                    v.extend_from_slice(&l.bytes);
                }
            }
            OspfBody::Ack(hs) => {
                for h in hs {
                    h.emit(&mut v);
                }
            }
        }
        let n = v.len() as u16;
        v[field::LENGTH].copy_from_slice(&n.to_be_bytes());
        let c = checksum::in_cksum(&v);
        v[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A router LSA of 1.1.1.1 with one stub link, 10.0.1.0/24 at cost 10.
    fn router_lsa() -> (Lsa, RouterLsa) {
        let h = LsaHdr {
            age: 1,
            options: OPT_E,
            ls_type: LSA_ROUTER,
            id: 0x0101_0101,
            adv: 0x0101_0101,
            seq: INITIAL_SEQ,
            checksum: 0,
            length: 0,
        };
        let body = RouterLsa {
            flags: 0,
            links: vec![RouterLink {
                id: 0x0a00_0100,
                data: 0xffff_ff00,
                kind: LINK_STUB,
                metric: 10,
            }],
        };
        (Lsa::build(h, &body.emit()), body)
    }

    #[test]
    fn lsas_carry_a_fletcher_checksum_that_checks() {
        let (l, body) = router_lsa();
        assert!(l.checksum_ok());
        assert_eq!(l.bytes.len(), 36);
        assert_eq!(Lsa::parse(&l.bytes), Ok(l.clone()));
        assert_eq!(RouterLsa::parse(l.body()), Ok(body));
        let mut bad = l.clone();
        bad.bytes[30] ^= 1;
        assert!(!bad.checksum_ok());
        let mut older = l.clone();
        older.set_age(MAX_AGE);
        assert!(older.checksum_ok(), "the age is not covered");
        assert_eq!(lsa_newer(&older.hdr(), &l.hdr()), std::cmp::Ordering::Greater);
    }

    #[test]
    fn packets_read_back_and_bad_ones_are_refused() {
        let (lsa, _) = router_lsa();
        for body in [
            OspfBody::Hello(Hello {
                mask: 0xffff_ff00,
                hello_interval: 10,
                options: OPT_E,
                priority: 1,
                dead_interval: 40,
                dr: 0x0a00_0101,
                bdr: 0,
                neighbors: vec![0x0202_0202],
            }),
            OspfBody::Dd(Dd {
                mtu: 1500,
                options: OPT_E,
                flags: DD_I | DD_M | DD_MS,
                seq: 77,
                headers: vec![lsa.hdr()],
            }),
            OspfBody::Lsr(vec![lsa.hdr().key()]),
            OspfBody::Lsu(vec![lsa.clone()]),
            OspfBody::Ack(vec![lsa.hdr()]),
        ] {
            let r = OspfRepr {
                router_id: 0x0101_0101,
                area: 0,
                body,
            };
            let b = r.emit();
            assert_eq!(OspfRepr::parse(&b), Ok(r.clone()));
            let mut bad = b.clone();
            bad[5] ^= 1;
            assert_eq!(OspfRepr::parse(&bad), Err(OspfErr::BadChecksum));
            for n in 0..b.len() {
                let _ = OspfRepr::parse(&b[..n]);
            }
        }
        assert_eq!(OspfRepr::parse(&[3; 40]), Err(OspfErr::BadVersion(3)));
    }

    proptest::proptest! {
        /// Any bytes after a plausible header: a packet or an error,
        /// never a panic; what parses emits back the same.
        #[test]
        fn any_packet_parses_or_is_refused(t in 1u8..=6, body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut b = vec![2, t, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            b.extend_from_slice(&body);
            let n = b.len() as u16;
            b[2..4].copy_from_slice(&n.to_be_bytes());
            let c = checksum::in_cksum(&b);
            b[12..14].copy_from_slice(&c.to_be_bytes());
            if let Ok(r) = OspfRepr::parse(&b) {
                proptest::prop_assert_eq!(OspfRepr::parse(&r.emit()), Ok(r));
            }
            let _ = RouterLsa::parse(&body);
            let _ = NetworkLsa::parse(&body);
            let _ = PrefixLsa::parse(&body);
        }
    }
}
