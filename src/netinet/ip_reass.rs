//! IPv4 reassembly (RFC 791 §3.2, RFC 815), after `ip_reass.c`, with the
//! limits of `net.inet.ip.maxfragpackets` and `maxfragsperpacket` and a
//! 30-second timeout. Overlaps keep the bytes that came first; malformed
//! fragments are counted and dropped.

use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::mbuf::Mbuf;
use crate::netinet::ip::{IP, IP_MAXPACKET, IP_MF, Ipv4Hdr};
use crate::vnet::Vnet;

/// How long fragments wait for the rest (`IPFRAGTTL`).
pub const IPFRAGTTL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    src: u32,
    dst: u32,
    id: u16,
    p: u8,
}

#[derive(Debug)]
struct Queue {
    key: Key,
    seq: u64,
    /// The first fragment's header (with its options).
    hdr: Option<Vec<u8>>,
    /// Pieces of payload: (offset, bytes), sorted, never overlapping.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Payload length, once the last fragment came.
    total: Option<usize>,
    nfrags: usize,
    timer: TimerId,
}

/// The reassembly queues of a vnet.
#[derive(Debug, Default)]
pub struct Reass {
    queues: Vec<Queue>,
    seq: u64,
}

impl Reass {
    /// Datagrams waiting for fragments.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Cancel every timer (the vnet is going away).
    pub(crate) fn drain(self, k: &mut Kernel) {
        for q in self.queues {
            k.untimeout(q.timer);
        }
    }
}

/// Add a fragment (`m` holds the whole datagram, header first); returns
/// the reassembled datagram when it is complete.
pub fn ip_reass(k: &mut Kernel, v: &mut Vnet, m: Mbuf, h: &Ipv4Hdr) -> Option<Mbuf> {
    let id = v.id();
    let ip = v.builtin(IP);
    ip.stats.fragments += 1;
    let off = h.frag_off();
    let mf = h.off & IP_MF != 0;
    let d = m.data();
    let payload = &d[h.hl..h.len as usize];
    // Every fragment but the last carries a multiple of 8 bytes; none may
    // reach past the largest datagram.
    if payload.is_empty() || (mf && !payload.len().is_multiple_of(8)) || h.hl + off + payload.len() > IP_MAXPACKET {
        ip.stats.fragdropped += 1;
        return None;
    }
    let key = Key {
        src: h.src,
        dst: h.dst,
        id: h.id,
        p: h.p,
    };
    let qi = match ip.reass.queues.iter().position(|q| q.key == key) {
        Some(i) => i,
        None => {
            if ip.reass.queues.len() >= ip.maxfragpackets.max(0) as usize {
                ip.stats.fragdropped += 1;
                return None;
            }
            ip.reass.seq += 1;
            let seq = ip.reass.seq;
            let timer = k.timeout(
                IPFRAGTTL,
                Action::Vnet {
                    vnet: id,
                    f: ip_reass_timeout,
                    arg: seq,
                },
            );
            let ip = v.builtin(IP);
            ip.reass.queues.push(Queue {
                key,
                seq,
                hdr: None,
                pieces: Vec::new(),
                total: None,
                nfrags: 0,
                timer,
            });
            ip.reass.queues.len() - 1
        }
    };
    let ip = v.builtin(IP);
    let maxfrags = ip.maxfragsperpacket.max(0) as usize;
    let q = &mut ip.reass.queues[qi];
    q.nfrags += 1;
    if q.nfrags > maxfrags {
        let n = q.nfrags as u64;
        let q = ip.reass.queues.swap_remove(qi);
        ip.stats.fragdropped += n;
        k.untimeout(q.timer);
        return None;
    }
    if off == 0 {
        q.hdr.get_or_insert_with(|| d[..h.hl].to_vec());
    }
    if !mf {
        let end = off + payload.len();
        if q.total.is_some_and(|t| t != end) || q.pieces.iter().any(|(o, b)| o + b.len() > end) {
            // Two different ends, or data past the end: malformed.
            let n = q.nfrags as u64;
            let q = ip.reass.queues.swap_remove(qi);
            ip.stats.fragdropped += n;
            k.untimeout(q.timer);
            return None;
        }
        q.total = Some(end);
    } else if q.total.is_some_and(|t| off + payload.len() > t) {
        let n = q.nfrags as u64;
        let q = ip.reass.queues.swap_remove(qi);
        ip.stats.fragdropped += n;
        k.untimeout(q.timer);
        return None;
    }
    insert_new_bytes(&mut q.pieces, off, payload);
    let total = q.total?;
    let mut at = 0;
    for (o, b) in &q.pieces {
        if *o != at {
            return None;
        }
        at += b.len();
    }
    if at != total || q.hdr.is_none() {
        return None;
    }
    let q = ip.reass.queues.swap_remove(qi);
    ip.stats.reassembled += 1;
    k.untimeout(q.timer);
    let hdr = q.hdr.unwrap_or_default();
    let hl = hdr.len();
    let mut out = Vec::with_capacity(hl + total);
    out.extend_from_slice(&hdr);
    for (_, b) in q.pieces {
        out.extend_from_slice(&b);
    }
    let len = out.len() as u16;
    let mut p = crate::wire::ipv4::Packet::new_unchecked(&mut out[..]);
    p.set_total_len(len);
    p.set_flags_offset(0);
    p.fill_checksum();
    Some(Mbuf::from_slice(&out))
}

/// Insert the parts of `data` at `off` that no piece covers yet.
fn insert_new_bytes(pieces: &mut Vec<(usize, Vec<u8>)>, off: usize, data: &[u8]) {
    let end = off + data.len();
    let mut at = off;
    let mut new = Vec::new();
    for (o, b) in pieces.iter() {
        let (po, pe) = (*o, o + b.len());
        if pe <= at || po >= end {
            continue;
        }
        if po > at {
            new.push((at, data[at - off..po - off].to_vec()));
        }
        at = at.max(pe);
    }
    if at < end {
        new.push((at, data[at - off..].to_vec()));
    }
    pieces.extend(new);
    pieces.sort_by_key(|p| p.0);
}

/// A datagram waited too long: drop it, and tell the sender if its first
/// fragment came (RFC 792: time exceeded in reassembly).
fn ip_reass_timeout(k: &mut Kernel, v: &mut Vnet, seq: u64) {
    let ip = v.builtin(IP);
    let Some(i) = ip.reass.queues.iter().position(|q| q.seq == seq) else {
        return;
    };
    let q = ip.reass.queues.swap_remove(i);
    ip.stats.fragtimeout += q.nfrags as u64;
    if let (Some(hdr), Some((0, first))) = (q.hdr, q.pieces.first()) {
        let mut pkt = hdr;
        pkt.extend_from_slice(&first[..first.len().min(8)]);
        let len = pkt.len() as u16;
        pkt[2..4].copy_from_slice(&len.to_be_bytes());
        crate::netinet::icmp::icmp_error(
            k,
            v,
            &pkt,
            crate::netinet::icmp::ICMP_TIMXCEED,
            crate::netinet::icmp::ICMP_TIMXCEED_REASS,
            0,
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes_win_on_overlap() {
        let mut p = Vec::new();
        insert_new_bytes(&mut p, 8, b"BBBBBBBB");
        insert_new_bytes(&mut p, 0, b"AAAAAAAAAAAA");
        insert_new_bytes(&mut p, 4, b"CCCCCCCCCCCCCCCCCCCC");
        let flat: Vec<u8> = p.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(flat, b"AAAAAAAABBBBBBBBCCCCCCCC");
        let mut at = 0;
        for (o, b) in &p {
            assert_eq!(*o, at);
            at += b.len();
        }
    }
}
