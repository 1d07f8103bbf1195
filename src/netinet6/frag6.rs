//! IPv6 reassembly (RFC 8200 §4.5, after `frag6.c`), with the limits of
//! `net.inet6.ip6.maxfragpackets`, `maxfrags` and `maxfragsperpacket`
//! and a 60-second timeout ("time exceeded" if the first fragment came).
//! Overlapping fragments discard the whole datagram (RFC 5722); a
//! fragment header on an unfragmented datagram is just removed (RFC 6946).

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::mbuf::Mbuf;
use crate::netinet6::icmp6::icmp6_error;
use crate::netinet6::ip6::{IP6, IP6_HDR_LEN, IPV6_MAXPACKET};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{
    ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, ICMP6_TIME_EXCEED_REASSEMBLY, ICMP6_TIME_EXCEEDED,
};
use crate::wire::ipv6::{ExtChain, FragHdr, Packet};

/// How long fragments wait for the rest (`IPV6_FRAGTTL`).
pub const IPV6_FRAGTTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Queue {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ident: u32,
    seq: u32,
    /// The first fragment as it came (its unfragmentable part, and the
    /// quote of a timeout's error), and where its fragment header is.
    first: Option<(Vec<u8>, usize, usize)>,
    /// Pieces of the fragmentable part: (offset, bytes), sorted.
    pieces: Vec<(usize, Vec<u8>)>,
    /// Its length, once the last fragment came.
    total: Option<usize>,
    index: u32,
    timer: TimerId,
}

/// The reassembly queues of a vnet (`V_ip6qb`).
#[derive(Debug, Default)]
pub struct Frag6 {
    queues: Vec<Queue>,
    seq: u32,
    /// Fragments held in all the queues.
    nfrags: u32,
}

impl Frag6 {
    /// Datagrams waiting for fragments.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Fragments held.
    pub fn frags(&self) -> usize {
        self.nfrags as usize
    }

    /// Cancel every timer (the vnet is going away).
    pub(crate) fn drain(self, k: &mut Kernel) {
        for q in self.queues {
            k.untimeout(q.timer);
        }
    }

    fn remove(&mut self, k: &mut Kernel, at: usize) -> Queue {
        let q = self.queues.swap_remove(at);
        self.nfrags -= q.pieces.len() as u32;
        k.untimeout(q.timer);
        q
    }
}

/// Add a fragment (`m`: the datagram from its IPv6 header, `c` its walk
/// up to the fragment header); the reassembled datagram when complete.
pub fn frag6_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, c: &ExtChain, index: u32) -> Option<Mbuf> {
    let (foff, fh) = c.frag?;
    let d = m.data();
    let ip6 = v.builtin(IP6);
    ip6.stats.fragments += 1;
    let data = &d[foff + FragHdr::LEN..];
    let off = fh.offset as usize;
    if off == 0 && !fh.more {
        // An atomic fragment: the header goes, the datagram stays (RFC 6946).
        ip6.stats.atomicfrags += 1;
        return Some(unfragment(d, foff, c.frag_nxt, fh.next_header, data));
    }
    // Every fragment but the last carries a multiple of 8 bytes (§4.5).
    if fh.more && (data.is_empty() || !data.len().is_multiple_of(8)) {
        ip6.stats.fragdropped += 1;
        icmp6_error(k, v, d, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, 4, index);
        return None;
    }
    if foff + FragHdr::LEN + off + data.len() > IP6_HDR_LEN + IPV6_MAXPACKET {
        ip6.stats.fragdropped += 1;
        icmp6_error(
            k,
            v,
            d,
            ICMP6_PARAM_PROB,
            ICMP6_PARAMPROB_HEADER,
            (foff + 2) as u32,
            index,
        );
        return None;
    }
    let p = Packet::new_unchecked(d);
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let (maxpackets, maxfrags, perpacket) = (
        ip6.maxfragpackets.max(0) as usize,
        ip6.maxfrags.max(0) as usize,
        ip6.maxfragsperpacket.max(0) as usize,
    );
    let found = ip6
        .frag
        .queues
        .iter()
        .position(|q| q.src == src && q.dst == dst && q.ident == fh.ident);
    if ip6.frag.nfrags as usize >= maxfrags {
        ip6.stats.fragoverflow += 1;
        return None;
    }
    let at = match found {
        Some(at) => at,
        None => {
            if ip6.frag.queues.len() >= maxpackets {
                ip6.stats.fragoverflow += 1;
                return None;
            }
            ip6.frag.seq = ip6.frag.seq.wrapping_add(1);
            let seq = ip6.frag.seq;
            let timer = k.timeout(
                IPV6_FRAGTTL,
                Action::Vnet {
                    vnet: v.id(),
                    f: frag6_timeout,
                    arg: seq as u64,
                },
            );
            let ip6 = v.builtin(IP6);
            ip6.frag.queues.push(Queue {
                src,
                dst,
                ident: fh.ident,
                seq,
                first: None,
                pieces: Vec::new(),
                total: None,
                index,
                timer,
            });
            ip6.frag.queues.len() - 1
        }
    };
    let ip6 = v.builtin(IP6);
    let q = &mut ip6.frag.queues[at];
    let end = off + data.len();
    // Overlaps, a second end, data past the end, too many: the datagram
    // is discarded whole (RFC 5722).
    let overlaps = q.pieces.iter().any(|(o, b)| off < o + b.len() && *o < end);
    let bad_end = match (fh.more, q.total) {
        (false, Some(t)) => t != end,
        (false, None) => q.pieces.iter().any(|(o, b)| o + b.len() > end),
        (true, Some(t)) => end > t,
        (true, None) => false,
    };
    if overlaps || bad_end || q.pieces.len() >= perpacket {
        let q = ip6.frag.remove(k, at);
        ip6.stats.fragdropped += q.pieces.len() as u64 + 1;
        return None;
    }
    if !fh.more {
        q.total = Some(end);
    }
    if off == 0 {
        q.first = Some((d[..foff + FragHdr::LEN].to_vec(), foff, c.frag_nxt));
    }
    let pos = q.pieces.partition_point(|(o, _)| *o < off);
    q.pieces.insert(pos, (off, data.to_vec()));
    ip6.frag.nfrags += 1;
    // Whole when the first and last came and the pieces meet.
    let total = q.total?;
    let mut next = 0;
    for (o, b) in &q.pieces {
        if *o != next {
            return None;
        }
        next += b.len();
    }
    if next != total || q.first.is_none() {
        return None;
    }
    let q = ip6.frag.remove(k, at);
    ip6.stats.reassembled += 1;
    let (hdr, foff, nxt_at) = q.first?;
    let nxt = hdr[foff];
    let body: Vec<u8> = q.pieces.into_iter().flat_map(|(_, b)| b).collect();
    Some(unfragment(&hdr, foff, nxt_at, nxt, &body))
}

/// The datagram without its fragment header: the unfragmentable part of
/// `d` (up to `foff`), whose field at `nxt_at` now names `nxt`, then `body`.
fn unfragment(d: &[u8], foff: usize, nxt_at: usize, nxt: u8, body: &[u8]) -> Mbuf {
    let mut out = Vec::with_capacity(foff + body.len());
    out.extend_from_slice(&d[..foff]);
    out.extend_from_slice(body);
    out[nxt_at] = nxt;
    let len = (out.len() - IP6_HDR_LEN) as u16;
    Packet::new_unchecked(&mut out[..]).set_payload_len(len);
    Mbuf::from_slice(&out)
}

/// A datagram's time is up: drop what came, and tell the sender if the
/// first fragment was among it (RFC 8200 §4.5).
fn frag6_timeout(k: &mut Kernel, v: &mut Vnet, seq: u64) {
    let seq = seq as u32;
    let ip6 = v.builtin(IP6);
    let Some(at) = ip6.frag.queues.iter().position(|q| q.seq == seq) else {
        return;
    };
    let q = ip6.frag.queues.swap_remove(at);
    ip6.frag.nfrags -= q.pieces.len() as u32;
    ip6.stats.fragtimeout += 1;
    ip6.stats.fragdropped += q.pieces.len() as u64;
    if let (Some((hdr, _, _)), Some((_, b))) = (q.first, q.pieces.first()) {
        let mut quote = hdr;
        quote.extend_from_slice(b);
        let len = (quote.len() - IP6_HDR_LEN) as u16;
        Packet::new_unchecked(&mut quote[..]).set_payload_len(len);
        icmp6_error(
            k,
            v,
            &quote,
            ICMP6_TIME_EXCEEDED,
            ICMP6_TIME_EXCEED_REASSEMBLY,
            0,
            q.index,
        );
    }
}
