//! The messages between the shim and vimage (docs/HOST_PROGRAMS.md):
//! one request and one answer per `SOCK_SEQPACKET` message, a descriptor
//! riding along (`SCM_RIGHTS`) where said. Shared by both sides
//! (vimage includes this file). Fixed little-endian fields:
//!
//! request: op u8, ino u64, a i32, b i32, c i32, addr (27 bytes), data.
//! answer:  errno i32, val i32, addr (27 bytes), data.
//! addr:    family u8 (0 none, 4, 6), port u16, ip [u8; 16], scope u32,
//!          flowinfo u32.
//!
//! A UDP socket's pair carries one datagram per message behind a header
//! ([`DGRAM_HDR`] bytes): kind u8 ([`DG_DATA`], [`DG_ERROR`]), errno i32,
//! addr (to whom, none: the connected peer; from whom).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Announce a channel (over the control socket; the channel's far end
/// rides along). `a`: the process id.
pub const OP_HELLO: u8 = 1;
/// A new socket: `a` family, `b` type (without flags), `c` protocol; its
/// far end rides along. The shim does not wait for this answer: it
/// reads it before the answer to its thread's next request.
pub const OP_SOCKET: u8 = 2;
/// Is `ino` a vimage socket? (After `exec` the shim no longer knows.)
/// The answer's `val`: its type (`SOCK_STREAM`, `SOCK_DGRAM`).
pub const OP_IS: u8 = 3;
pub const OP_BIND: u8 = 4;
/// `a`: backlog. The answer carries the new listening end to `dup2`.
pub const OP_LISTEN: u8 = 5;
/// `a`: 1 if non-blocking (answer `EINPROGRESS` at once).
pub const OP_CONNECT: u8 = 6;
pub const OP_SOCKNAME: u8 = 7;
pub const OP_PEERNAME: u8 = 8;
/// `a` level, `b` name, data the value.
pub const OP_SETOPT: u8 = 9;
/// `a` level, `b` name; the answer's data is the value (`SO_ERROR`
/// waits for a connect under way).
pub const OP_GETOPT: u8 = 10;

/// The addresses of a name in the lab's hosts table (data: the name);
/// the answer's data: each address as `put_addr` writes it. ENOENT: not
/// a name the lab knows.
pub const OP_RESOLVE: u8 = 11;
/// The jail's hostname (the answer's data).
pub const OP_HOSTNAME: u8 = 12;
/// A line for the kernel's log (data), about what the program asked
/// that is not covered (`a`: the errno it got).
pub const OP_LOG: u8 = 13;
/// Run a vimage command in the jail (over the control socket; `a`: the
/// process id, whose working directory it takes): the end of a stream
/// socket rides along, which speaks the daemon's protocol from then on
/// (src/daemon/proto.rs) — vimage's binary called `ifconfig`, `ping`,
/// ... by a program in a jail (a host shell script) is its client.
pub const OP_COMMAND: u8 = 14;
/// The jail's interfaces and their addresses (getifaddrs(3), the
/// SIOCGIF* ioctls): the answer's data is [`put_ifs`]'s.
pub const OP_IFADDRS: u8 = 15;

pub const ADDR_LEN: usize = 27;
pub const DGRAM_HDR: usize = 1 + 4 + ADDR_LEN;
/// A datagram follows.
pub const DG_DATA: u8 = 0;
/// An error for the program's next call (an ICMP error on a connected
/// socket: `ECONNREFUSED`, ...).
pub const DG_ERROR: u8 = 1;

/// A datagram's header.
pub fn dgram_hdr(kind: u8, errno: i32, a: Option<SocketAddr>) -> [u8; DGRAM_HDR] {
    let mut v = Vec::with_capacity(DGRAM_HDR);
    v.push(kind);
    v.extend_from_slice(&errno.to_le_bytes());
    put_addr(&mut v, a);
    let mut h = [0u8; DGRAM_HDR];
    h.copy_from_slice(&v);
    h
}

/// A datagram's header read back: kind, errno, address.
pub fn dgram_parse(h: &[u8]) -> Option<(u8, i32, Option<SocketAddr>)> {
    let h = h.get(..DGRAM_HDR)?;
    Some((h[0], i32::from_le_bytes([h[1], h[2], h[3], h[4]]), get_addr(&h[5..])))
}
pub const REQ_HDR: usize = 1 + 8 + 12 + ADDR_LEN;
pub const ANS_HDR: usize = 8 + ADDR_LEN;
/// The largest message either way.
pub const MSG_MAX: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub op: u8,
    pub ino: u64,
    pub a: i32,
    pub b: i32,
    pub c: i32,
    pub addr: Option<SocketAddr>,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub errno: i32,
    pub val: i32,
    pub addr: Option<SocketAddr>,
    pub data: Vec<u8>,
}

impl Answer {
    pub fn err(errno: i32) -> Answer {
        Answer {
            errno,
            ..Answer::default()
        }
    }
}

pub fn put_addr(out: &mut Vec<u8>, a: Option<SocketAddr>) {
    let mut b = [0u8; ADDR_LEN];
    match a {
        None => {}
        Some(SocketAddr::V4(v)) => {
            b[0] = 4;
            b[1..3].copy_from_slice(&v.port().to_le_bytes());
            b[3..7].copy_from_slice(&v.ip().octets());
        }
        Some(SocketAddr::V6(v)) => {
            b[0] = 6;
            b[1..3].copy_from_slice(&v.port().to_le_bytes());
            b[3..19].copy_from_slice(&v.ip().octets());
            b[19..23].copy_from_slice(&v.scope_id().to_le_bytes());
            b[23..27].copy_from_slice(&v.flowinfo().to_le_bytes());
        }
    }
    out.extend_from_slice(&b);
}

pub fn get_addr(b: &[u8]) -> Option<SocketAddr> {
    let b = b.get(..ADDR_LEN)?;
    let port = u16::from_le_bytes([b[1], b[2]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    match b[0] {
        4 => Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(b[3], b[4], b[5], b[6]),
            port,
        ))),
        6 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[3..19]);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                u32_at(23),
                u32_at(19),
            )))
        }
        _ => None,
    }
}

/// An interface as a Linux program sees it (netdevice(7)): Linux's
/// `IFF_*` flags, its `ARPHRD_*` type, counters in `rtnl_link_stats`'s
/// first ten fields' order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfInfo {
    pub index: u32,
    pub flags: u32,
    pub mtu: u32,
    pub hatype: u16,
    pub lladdr: [u8; 6],
    pub stats: [u32; 10],
    pub name: String,
    pub addrs: Vec<IfAddr>,
}

/// One address of an interface: its scope id (link-local IPv6) in the
/// address, the prefix length, and the broadcast or point-to-point peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: SocketAddr,
    pub plen: u8,
    pub peer: Option<IfPeer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfPeer {
    Broadcast(SocketAddr),
    Dst(SocketAddr),
}

/// `IFNAMSIZ`: a name and its NUL.
pub const IFNAMSIZ: usize = 16;
const IF_HDR: usize = 4 * 3 + 2 + 6 + 40 + IFNAMSIZ + 1;
const IFADDR_LEN: usize = ADDR_LEN + 1 + 1 + ADDR_LEN;

/// The interfaces, each a fixed header and its addresses.
pub fn put_ifs(ifs: &[IfInfo]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in ifs {
        for v in [i.index, i.flags, i.mtu] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&i.hatype.to_le_bytes());
        out.extend_from_slice(&i.lladdr);
        for v in i.stats {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut name = [0u8; IFNAMSIZ];
        let n = i.name.len().min(IFNAMSIZ - 1);
        name[..n].copy_from_slice(&i.name.as_bytes()[..n]);
        out.extend_from_slice(&name);
        out.push(i.addrs.len().min(255) as u8);
        for a in i.addrs.iter().take(255) {
            put_addr(&mut out, Some(a.addr));
            out.push(a.plen);
            let (kind, peer) = match a.peer {
                None => (0, None),
                Some(IfPeer::Broadcast(b)) => (1, Some(b)),
                Some(IfPeer::Dst(d)) => (2, Some(d)),
            };
            out.push(kind);
            put_addr(&mut out, peer);
        }
    }
    out
}

/// [`put_ifs`] read back; `None` if cut short.
pub fn get_ifs(mut b: &[u8]) -> Option<Vec<IfInfo>> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut ifs = Vec::new();
    while !b.is_empty() {
        let h = b.get(..IF_HDR)?;
        let mut i = IfInfo {
            index: u32_at(h, 0),
            flags: u32_at(h, 4),
            mtu: u32_at(h, 8),
            hatype: u16::from_le_bytes([h[12], h[13]]),
            ..IfInfo::default()
        };
        i.lladdr.copy_from_slice(&h[14..20]);
        for (k, v) in i.stats.iter_mut().enumerate() {
            *v = u32_at(h, 20 + 4 * k);
        }
        let name = &h[60..60 + IFNAMSIZ];
        let end = name.iter().position(|&c| c == 0).unwrap_or(IFNAMSIZ);
        i.name = String::from_utf8_lossy(&name[..end]).into_owned();
        let n = h[IF_HDR - 1] as usize;
        b = &b[IF_HDR..];
        for _ in 0..n {
            let a = b.get(..IFADDR_LEN)?;
            let peer = get_addr(&a[ADDR_LEN + 2..]);
            i.addrs.push(IfAddr {
                addr: get_addr(a)?,
                plen: a[ADDR_LEN],
                peer: match a[ADDR_LEN + 1] {
                    1 => peer.map(IfPeer::Broadcast),
                    2 => peer.map(IfPeer::Dst),
                    _ => None,
                },
            });
            b = &b[IFADDR_LEN..];
        }
        ifs.push(i);
    }
    Some(ifs)
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REQ_HDR + self.data.len());
        out.push(self.op);
        out.extend_from_slice(&self.ino.to_le_bytes());
        for v in [self.a, self.b, self.c] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_addr(&mut out, self.addr);
        out.extend_from_slice(&self.data);
        out
    }

    pub fn decode(b: &[u8]) -> Option<Request> {
        if b.len() < REQ_HDR {
            return None;
        }
        let i32_at = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut ino = [0u8; 8];
        ino.copy_from_slice(&b[1..9]);
        Some(Request {
            op: b[0],
            ino: u64::from_le_bytes(ino),
            a: i32_at(9),
            b: i32_at(13),
            c: i32_at(17),
            addr: get_addr(&b[21..]),
            data: b[REQ_HDR..].to_vec(),
        })
    }
}

impl Answer {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ANS_HDR + self.data.len());
        out.extend_from_slice(&self.errno.to_le_bytes());
        out.extend_from_slice(&self.val.to_le_bytes());
        put_addr(&mut out, self.addr);
        out.extend_from_slice(&self.data);
        out
    }

    pub fn decode(b: &[u8]) -> Option<Answer> {
        if b.len() < ANS_HDR {
            return None;
        }
        let i32_at = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Answer {
            errno: i32_at(0),
            val: i32_at(4),
            addr: get_addr(&b[8..]),
            data: b[ANS_HDR..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_read_back() {
        let r = Request {
            op: OP_CONNECT,
            ino: 0x1234_5678_9abc,
            a: 1,
            b: -2,
            c: 3,
            addr: Some("[fe80::1%7]:80".parse().expect("addr")),
            data: b"opt".to_vec(),
        };
        assert_eq!(Request::decode(&r.encode()), Some(r));
        let to = Some("[2001:db8::2]:53".parse().expect("addr"));
        assert_eq!(dgram_parse(&dgram_hdr(DG_DATA, 0, to)), Some((DG_DATA, 0, to)));
        assert_eq!(
            dgram_parse(&dgram_hdr(DG_ERROR, 111, None)),
            Some((DG_ERROR, 111, None))
        );
        assert_eq!(dgram_parse(&[0u8; 5]), None);
        let a = Answer {
            errno: 111,
            val: 9,
            addr: Some("10.0.0.1:5201".parse().expect("addr")),
            data: vec![],
        };
        assert_eq!(Answer::decode(&a.encode()), Some(a));
        assert_eq!(Request::decode(&[1, 2, 3]), None, "short");
        let ifs = vec![IfInfo {
            index: 2,
            flags: 0x1043,
            mtu: 1500,
            hatype: 1,
            lladdr: [2, 0, 0, 0, 0, 0xa],
            stats: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            name: "epair0a".into(),
            addrs: vec![
                IfAddr {
                    addr: "10.0.0.1:0".parse().expect("addr"),
                    plen: 24,
                    peer: Some(IfPeer::Broadcast("10.0.0.255:0".parse().expect("addr"))),
                },
                IfAddr {
                    addr: "[fe80::1%2]:0".parse().expect("addr"),
                    plen: 64,
                    peer: None,
                },
            ],
        }];
        let b = put_ifs(&ifs);
        assert_eq!(get_ifs(&b), Some(ifs));
        assert_eq!(get_ifs(&b[..b.len() - 1]), None, "cut short");
    }
}
