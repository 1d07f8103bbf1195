//! The TCP header and its options (RFC 9293 §3.1, RFC 7323, RFC 2018),
//! and sequence-number arithmetic (RFC 9293 §3.4).

use std::net::IpAddr;

use crate::wire::checksum::{fold, pseudo, sum};
use crate::wire::ipv4::IPPROTO_TCP;

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// A view over a TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over a segment whose fixed header is all there (the data
    /// offset is not checked: see [`Packet::header_len`]).
    pub fn new_checked(buffer: T) -> Option<Packet<T>> {
        (buffer.as_ref().len() >= TCP_HDR_LEN).then_some(Packet { buffer })
    }

    pub fn src_port(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    pub fn dst_port(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::DST_PORT])
    }

    pub fn seq_number(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::SEQ_NUM])
    }

    pub fn ack_number(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::ACK_NUM])
    }

    /// The header's length in bytes (the data offset × 4).
    pub fn header_len(&self) -> usize {
        ((self.buffer.as_ref()[field::DATA_OFF] >> 4) as usize) * 4
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    pub fn window_len(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::WIN_SIZE])
    }

    pub fn checksum(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    pub fn urgent_at(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::URGENT])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// The ports and sequence number at the front of a segment (all an ICMP
/// error quotes of one: RFC 792's 64 bits).
pub fn quoted_ports_seq(b: &[u8]) -> Option<(u16, u16, u32)> {
    let b = b.get(..8)?;
    Some((
        super::be16(&b[field::SRC_PORT]),
        super::be16(&b[field::DST_PORT]),
        super::be32(&b[field::SEQ_NUM]),
    ))
}

pub const TH_FIN: u8 = 0x01;
pub const TH_SYN: u8 = 0x02;
pub const TH_RST: u8 = 0x04;
pub const TH_PUSH: u8 = 0x08;
pub const TH_ACK: u8 = 0x10;
pub const TH_URG: u8 = 0x20;

pub const TCP_HDR_LEN: usize = 20;
pub const TCPOPT_EOL: u8 = 0;
pub const TCPOPT_NOP: u8 = 1;
pub const TCPOPT_MAXSEG: u8 = 2;
pub const TCPOPT_WINDOW: u8 = 3;
pub const TCPOPT_SACK_PERMITTED: u8 = 4;
pub const TCPOPT_SACK: u8 = 5;
pub const TCPOPT_TIMESTAMP: u8 = 8;
/// The largest window shift (RFC 7323 §2.3).
pub const TCP_MAX_WINSHIFT: u8 = 14;
/// SACK blocks that fit with timestamps in 40 bytes of options.
pub const TCP_MAX_SACK: usize = 3;

/// `a < b` in sequence space.
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[inline]
pub fn seq_leq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

#[inline]
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

#[inline]
pub fn seq_geq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

#[inline]
pub fn seq_max(a: u32, b: u32) -> u32 {
    if seq_gt(a, b) { a } else { b }
}

#[inline]
pub fn seq_min(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) { a } else { b }
}

/// SACK blocks, without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackBlocks {
    pub n: usize,
    pub b: [(u32, u32); 4],
}

impl SackBlocks {
    pub fn push(&mut self, s: u32, e: u32) {
        if self.n < self.b.len() {
            self.b[self.n] = (s, e);
            self.n += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.b[..self.n].iter().copied()
    }
}

/// The options of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOpts {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    /// (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    pub sack: SackBlocks,
}

/// A parsed TCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHdr {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// Header length in bytes (data offset).
    pub off: usize,
    pub flags: u8,
    pub win: u16,
    pub urp: u16,
}

/// Why a segment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpErr {
    Short,
    BadOff,
    BadSum,
}

impl TcpHdr {
    /// Parse and check a segment (`seg` is the TCP header and data) that
    /// came from `src` to `dst`.
    /// Parse and check a segment; `csum_valid` when the link vouches for
    /// the checksum (`CSUM_DATA_VALID`).
    pub fn parse(seg: &[u8], src: IpAddr, dst: IpAddr, csum_valid: bool) -> Result<(TcpHdr, TcpOpts), TcpErr> {
        let Some(p) = Packet::new_checked(seg) else {
            return Err(TcpErr::Short);
        };
        let off = p.header_len();
        if off < TCP_HDR_LEN || off > seg.len() {
            return Err(TcpErr::BadOff);
        }
        if seg.len() > u16::MAX as usize
            || !csum_valid && fold(sum(pseudo(src, dst, IPPROTO_TCP, seg.len() as u32), seg)) != 0
        {
            return Err(TcpErr::BadSum);
        }
        let h = TcpHdr {
            sport: p.src_port(),
            dport: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            off,
            flags: p.flags(),
            win: p.window_len(),
            urp: p.urgent_at(),
        };
        Ok((h, parse_opts(&seg[TCP_HDR_LEN..off], h.flags & TH_SYN != 0)))
    }

    /// Write the header and `opts` into `seg` (which holds room for
    /// `off` bytes of header, then the data) and checksum it all.
    pub fn write(&self, seg: &mut [u8], opts: &[u8], src: IpAddr, dst: IpAddr) {
        self.write_delayed(seg, opts, src, dst);
        let c = fold(sum(0, seg));
        seg[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Write the header with only the pseudo-header's sum in the checksum
    /// field: the rest is left to `Mbuf::finish_csum`.
    pub fn write_delayed(&self, seg: &mut [u8], opts: &[u8], src: IpAddr, dst: IpAddr) {
        seg[field::SRC_PORT].copy_from_slice(&self.sport.to_be_bytes());
        seg[field::DST_PORT].copy_from_slice(&self.dport.to_be_bytes());
        seg[field::SEQ_NUM].copy_from_slice(&self.seq.to_be_bytes());
        seg[field::ACK_NUM].copy_from_slice(&self.ack.to_be_bytes());
        seg[field::DATA_OFF] = ((self.off / 4) as u8) << 4;
        seg[field::FLAGS] = self.flags;
        seg[field::WIN_SIZE].copy_from_slice(&self.win.to_be_bytes());
        seg[field::URGENT].copy_from_slice(&self.urp.to_be_bytes());
        seg[TCP_HDR_LEN..TCP_HDR_LEN + opts.len()].copy_from_slice(opts);
        let p = !fold(pseudo(src, dst, IPPROTO_TCP, seg.len() as u32));
        seg[field::CHECKSUM].copy_from_slice(&p.to_be_bytes());
    }
}

/// One option as it stands in the header (RFC 9293 §3.2, RFC 7323,
/// RFC 2018), of the right length for its kind or else `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    Eol,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// The blocks: pairs of left and right edges, 8 bytes each.
    Sack(&'a [u8]),
    Timestamp(u32, u32),
    Unknown(u8, &'a [u8]),
    /// A length that is too short or runs past the header: the walk ends.
    Malformed,
}

/// The options of `o` in order, up to the end-of-list or a malformed one.
pub fn options(o: &[u8]) -> impl Iterator<Item = TcpOption<'_>> {
    let mut rest = Some(o);
    std::iter::from_fn(move || {
        let o = rest?;
        let (&kind, _) = o.split_first()?;
        let (opt, len) = match kind {
            TCPOPT_EOL => (TcpOption::Eol, o.len()),
            TCPOPT_NOP => (TcpOption::Nop, 1),
            _ => match o.get(1).map(|&l| l as usize) {
                Some(l) if l >= 2 && l <= o.len() => {
                    let d = &o[2..l];
                    let opt = match (kind, d.len()) {
                        (TCPOPT_MAXSEG, 2) => TcpOption::Mss(super::be16(d)),
                        (TCPOPT_WINDOW, 1) => TcpOption::WindowScale(d[0]),
                        (TCPOPT_SACK_PERMITTED, 0) => TcpOption::SackPermitted,
                        (TCPOPT_SACK, n) if n >= 8 && n % 8 == 0 => TcpOption::Sack(d),
                        (TCPOPT_TIMESTAMP, 8) => TcpOption::Timestamp(super::be32(&d[..4]), super::be32(&d[4..])),
                        _ => TcpOption::Unknown(kind, d),
                    };
                    (opt, l)
                }
                _ => (TcpOption::Malformed, o.len()),
            },
        };
        rest = Some(&o[len..]).filter(|r| !r.is_empty() && !matches!(opt, TcpOption::Eol | TcpOption::Malformed));
        Some(opt)
    })
}

/// The options a segment carries (malformed ones end the walk; what came
/// before stays). MSS, window scale and SACK-permitted count only on a
/// SYN.
fn parse_opts(o: &[u8], syn: bool) -> TcpOpts {
    let mut r = TcpOpts::default();
    for opt in options(o) {
        match opt {
            TcpOption::Mss(m) if syn => r.mss = Some(m),
            TcpOption::WindowScale(w) if syn => r.wscale = Some(w.min(TCP_MAX_WINSHIFT)),
            TcpOption::SackPermitted if syn => r.sack_ok = true,
            TcpOption::Timestamp(val, ecr) => r.ts = Some((val, ecr)),
            TcpOption::Sack(d) => {
                for c in d.chunks_exact(8) {
                    r.sack.push(super::be32(&c[..4]), super::be32(&c[4..]));
                }
            }
            _ => {}
        }
    }
    r
}

/// Encode options (padded to 4 bytes) into `out`; returns the length.
pub fn write_opts(o: &TcpOpts, out: &mut [u8; 40]) -> usize {
    let mut n = 0;
    let put = |n: &mut usize, out: &mut [u8; 40], b: &[u8]| {
        out[*n..*n + b.len()].copy_from_slice(b);
        *n += b.len();
    };
    if let Some(m) = o.mss {
        put(&mut n, out, &[TCPOPT_MAXSEG, 4]);
        put(&mut n, out, &m.to_be_bytes());
    }
    if let Some(w) = o.wscale {
        put(&mut n, out, &[TCPOPT_NOP, TCPOPT_WINDOW, 3, w]);
    }
    if o.sack_ok {
        put(&mut n, out, &[TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERMITTED, 2]);
    }
    if let Some((v, e)) = o.ts {
        put(&mut n, out, &[TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, 10]);
        put(&mut n, out, &v.to_be_bytes());
        put(&mut n, out, &e.to_be_bytes());
    }
    if o.sack.n > 0 {
        let room = (40 - n - 4) / 8;
        let k = o.sack.n.min(room);
        if k > 0 {
            put(&mut n, out, &[TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, (2 + 8 * k) as u8]);
            for (s, e) in o.sack.iter().take(k) {
                put(&mut n, out, &s.to_be_bytes());
                put(&mut n, out, &e.to_be_bytes());
            }
        }
    }
    while n % 4 != 0 {
        put(&mut n, out, &[TCPOPT_EOL]);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_in_order_and_a_malformed_one_ends_the_walk() {
        // Linux's SYN: mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7.
        let syn = [2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        let got: Vec<_> = options(&syn).collect();
        assert_eq!(
            got,
            [
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp(1, 0),
                TcpOption::Nop,
                TcpOption::WindowScale(7)
            ]
        );
        let o = parse_opts(&syn, true);
        assert_eq!(
            (o.mss, o.wscale, o.sack_ok, o.ts),
            (Some(1460), Some(7), true, Some((1, 0)))
        );
        assert_eq!(parse_opts(&syn, false).mss, None, "MSS only on a SYN");
        let bad = [1, 2, 9, 0, 0, 1, 1];
        assert_eq!(
            options(&bad).collect::<Vec<_>>(),
            [TcpOption::Nop, TcpOption::Malformed]
        );
        assert_eq!(options(&[0, 2, 4, 5, 180]).collect::<Vec<_>>(), [TcpOption::Eol]);
        assert_eq!(options(&[2, 1]).collect::<Vec<_>>(), [TcpOption::Malformed]);
        assert_eq!(
            options(&[30, 3, 9]).collect::<Vec<_>>(),
            [TcpOption::Unknown(30, &[9][..])]
        );
    }

    #[test]
    fn sequence_arithmetic_wraps() {
        assert!(seq_lt(0xffff_fff0, 0x10));
        assert!(seq_gt(0x10, 0xffff_fff0));
        assert!(seq_leq(5, 5) && seq_geq(5, 5));
        assert_eq!(seq_max(0xffff_fff0, 0x10), 0x10);
        assert_eq!(seq_min(0xffff_fff0, 0x10), 0xffff_fff0);
    }

    #[test]
    fn options_roundtrip_and_malformed_ones_stop_the_walk() {
        let mut o = TcpOpts {
            mss: Some(1460),
            wscale: Some(7),
            sack_ok: true,
            ts: Some((1, 2)),
            ..TcpOpts::default()
        };
        let mut b = [0u8; 40];
        let n = write_opts(&o, &mut b);
        assert_eq!(n % 4, 0);
        assert_eq!(parse_opts(&b[..n], true), o);
        o.mss = None;
        o.wscale = None;
        o.sack_ok = false;
        o.sack.push(100, 200);
        o.sack.push(300, 400);
        let n = write_opts(&o, &mut b);
        assert_eq!(parse_opts(&b[..n], false), o);
        // A length running past the end, a zero length.
        assert_eq!(parse_opts(&[2, 9, 5, 180], true).mss, None);
        assert_eq!(parse_opts(&[8, 0, 1, 1], false).ts, None);
        assert_eq!(parse_opts(&[2, 4, 5, 180], false).mss, None, "MSS only on SYN");
    }

    #[test]
    fn header_checksum() {
        let h = TcpHdr {
            sport: 1,
            dport: 2,
            seq: 3,
            ack: 4,
            off: 24,
            flags: TH_SYN,
            win: 5,
            urp: 0,
        };
        let mut seg = vec![0u8; 24 + 3];
        seg[24..].copy_from_slice(b"abc");
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        h.write(&mut seg, &[2, 4, 5, 180], a, b);
        let (p, o) = TcpHdr::parse(&seg, a, b, false).expect("valid");
        assert_eq!(p, h);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(
            TcpHdr::parse(&seg, a, IpAddr::from([10, 0, 0, 3]), false),
            Err(TcpErr::BadSum)
        );
        seg[12] = 0xf0;
        assert_eq!(TcpHdr::parse(&seg, a, b, false), Err(TcpErr::BadOff));
    }
}
