//! TCP output (after `tcp_output.c`): decide what a connection should
//! send now — new data within the send and congestion windows (Nagle,
//! RFC 9293 §3.7.4, and sender SWS avoidance), SACK-based retransmission
//! of holes in recovery (RFC 6675), window updates, ACKs, SYN and FIN —
//! and build the segments, with timestamps and SACK blocks.

use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::netinet::ip::IPPROTO_TCP;
use crate::netinet::ip_output::{IpOpts, IpOutErr};
use crate::netinet::protosw::pr_output;
use crate::netinet::tcp_subr::{tcp_timer_update, tcp_ts};
use crate::netinet::tcp_var::{SoError, TCP, TcbId, TcpState};
use crate::vnet::Vnet;
use crate::wire::tcp::{
    SackBlocks, TCP_HDR_LEN, TCP_MAX_SACK, TH_ACK, TH_FIN, TH_PUSH, TH_SYN, TcpHdr, TcpOpts, seq_gt, seq_lt, write_opts,
};

/// The window shift that lets a buffer of `max` bytes be offered.
pub fn wscale_for(max: usize) -> u8 {
    let mut s = 0;
    while s < 14 && (65535usize << s) < max {
        s += 1;
    }
    s
}

/// What to send: `len` bytes at `seq`, and these flags.
#[derive(Clone, Copy, Debug)]
struct Seg {
    seq: u32,
    len: u32,
    flags: u8,
    /// A hole retransmitted in SACK recovery.
    sack_rexmit: bool,
}

/// Send a segment at `seq` with `len` bytes of the send buffer and
/// `flags`; ACK, window, timestamps and SACK blocks are filled in.
fn tcp_send_seg(k: &mut Kernel, v: &mut Vnet, id: TcbId, s: Seg, now: Time) -> Result<(), IpOutErr> {
    let t = v.builtin(TCP);
    let Some(tp) = t.get_mut(id) else { return Ok(()) };
    let mut o = TcpOpts::default();
    let mut flags = s.flags;
    if flags & TH_SYN != 0 {
        o.mss = Some(tcp_mss_for_cached(tp.t_maxseg));
        if tp.rcv_scale > 0 || tp.snd_scale > 0 || tp.state == TcpState::SynSent {
            o.wscale = Some(tp.rcv_scale);
        }
        o.sack_ok = tp.sack_ok;
    }
    if tp.ts_ok {
        o.ts = Some((tcp_ts(now), tp.ts_recent));
    }
    if tp.sack_ok && !tp.reass.is_empty() && flags & TH_SYN == 0 {
        o.sack = sack_blocks(tp);
    }
    if tp.state != TcpState::SynSent {
        flags |= TH_ACK;
    }
    let mut ob = [0u8; 40];
    let olen = write_opts(&o, &mut ob);
    let hlen = TCP_HDR_LEN + olen;
    // The window: no sliver smaller than a segment and a quarter of the
    // buffer (receiver SWS avoidance, RFC 1122 §4.2.3.3), and never less
    // than what we offered before (RFC 9293 §3.8.6.2.2).
    let space = tp.rcv_space();
    let space = if (space as usize) < tp.rcv_hiwat / 4 && space < tp.maxseg() {
        0
    } else {
        space
    };
    let offered = tp.rcv_adv.wrapping_sub(tp.rcv_nxt);
    let space = if seq_gt(tp.rcv_adv, tp.rcv_nxt) {
        space.max(offered)
    } else {
        space
    };
    let scale = if flags & TH_SYN != 0 { 0 } else { tp.rcv_scale };
    let win = (space >> scale).min(65535);
    if seq_gt(tp.rcv_nxt.wrapping_add(win << scale), tp.rcv_adv) {
        tp.rcv_adv = tp.rcv_nxt.wrapping_add(win << scale);
    }
    let from = s.seq.wrapping_sub(tp.snd_una) as usize;
    let (a, b) = tp.snd_buf.as_slices();
    let (a, b) = ring_range(a, b, from, s.len as usize);
    let mut m = Mbuf::with_header(hlen, a, b);
    let h = TcpHdr {
        sport: tp.local.port,
        dport: tp.foreign.port,
        seq: s.seq,
        ack: if flags & TH_ACK != 0 { tp.rcv_nxt } else { 0 },
        off: hlen,
        flags,
        win: win as u16,
        urp: 0,
    };
    h.write_delayed(m.data_mut(), &ob[..olen], tp.local.addr, tp.foreign.addr);
    let seglen = m.len();
    m.set_csum_delayed(0, seglen, 16);
    let asked = tp.ack_now;
    tp.ack_now = false;
    tp.delack_segs = 0;
    tp.timers.delack = None;
    let (faddr, laddr, ttl) = (tp.foreign.addr, tp.local.addr, tp.ttl);
    let rexmit = seq_lt(s.seq, tp.snd_max);
    let st = &mut t.stats;
    st.sndtotal += 1;
    st.sack_send_blocks += o.sack.n as u64;
    if s.len > 0 {
        if rexmit {
            st.sndrexmitpack += 1;
            st.sndrexmitbyte += s.len as u64;
            if s.sack_rexmit {
                st.sack_rexmits += 1;
                st.sack_rexmit_bytes += s.len as u64;
            }
        } else {
            st.sndpack += 1;
            st.sndbyte += s.len as u64;
        }
    } else if flags & (TH_SYN | TH_FIN) != 0 {
        st.sndctrl += 1;
    } else if asked {
        st.sndacks += 1;
    } else {
        st.sndwinup += 1;
    }
    let pmtud = t.path_mtu_discovery;
    let opts = IpOpts {
        ttl: (ttl > 0).then_some(ttl),
        df: pmtud,
        proto: IPPROTO_TCP,
        ..IpOpts::default()
    };
    pr_output(k, v, m, laddr, faddr, opts)
}

/// Our MSS offer is the MSS we use (both from the route at open time).
fn tcp_mss_for_cached(maxseg: u32) -> u16 {
    maxseg.min(65535) as u16
}

/// The `len` bytes from `from` of a ring buffer's two slices `a` + `b`.
fn ring_range<'a>(a: &'a [u8], b: &'a [u8], from: usize, len: usize) -> (&'a [u8], &'a [u8]) {
    if from >= a.len() {
        let f = (from - a.len()).min(b.len());
        return (&b[f..(f + len).min(b.len())], &[]);
    }
    let first = &a[from..(from + len).min(a.len())];
    let rest = (len - first.len()).min(b.len());
    (first, &b[..rest])
}

/// Up to three SACK blocks: the most recent out-of-order block first
/// (RFC 2018 §4), then the others from the lowest.
fn sack_blocks(tp: &crate::netinet::tcp_var::Tcb) -> SackBlocks {
    let mut b = SackBlocks::default();
    let base = tp.irs.wrapping_add(1);
    let mut blocks: Vec<(u32, u32)> = Vec::new();
    for (&off, d) in &tp.reass {
        let s = base.wrapping_add(off as u32);
        let e = s.wrapping_add(d.len() as u32);
        match blocks.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => blocks.push((s, e)),
        }
    }
    if let Some((s, e)) = tp.last_ooo
        && let Some(first) = blocks.iter().position(|&(bs, be)| !seq_lt(s, bs) && !seq_gt(e, be))
    {
        let f = blocks.remove(first);
        b.push(f.0, f.1);
    }
    for (s, e) in blocks {
        if b.n >= TCP_MAX_SACK {
            break;
        }
        b.push(s, e);
    }
    b
}

/// The first hole of the SACK scoreboard worth retransmitting (RFC 6675
/// NextSeg, rule 1): lost (three segments' worth SACKed above it), not
/// retransmitted yet.
fn next_hole(tp: &crate::netinet::tcp_var::Tcb) -> Option<(u32, u32)> {
    let mss = seg_size(tp);
    let mut start = if seq_gt(tp.sack_rexmit, tp.snd_una) {
        tp.sack_rexmit
    } else {
        tp.snd_una
    };
    for (i, &(bs, be)) in tp.scoreboard.iter().enumerate() {
        if seq_lt(start, bs) {
            let above: u32 = tp.scoreboard[i..].iter().map(|&(s, e)| e.wrapping_sub(s)).sum();
            // The first hole is what the duplicate ACKs were about.
            if start == tp.snd_una || above >= 3 * mss || tp.scoreboard.len() - i >= 3 {
                return Some((start, bs.wrapping_sub(start).min(mss)));
            }
            return None;
        }
        if seq_lt(start, be) {
            start = be;
        }
    }
    None
}

/// The sender's estimate of bytes in the network during SACK recovery
/// (RFC 6675 "pipe", as FreeBSD estimates it).
fn pipe(tp: &crate::netinet::tcp_var::Tcb) -> u32 {
    let fack = tp.scoreboard.last().map_or(tp.snd_una, |&(_, e)| e);
    let fack = if seq_gt(fack, tp.snd_una) { fack } else { tp.snd_una };
    tp.snd_max.wrapping_sub(fack).wrapping_add(tp.sack_bytes_rexmit)
}

/// The data a segment carries now: `maxseg()` less the SACK blocks we
/// would add (`t_maxseg - optlen`).
fn seg_size(tp: &crate::netinet::tcp_var::Tcb) -> u32 {
    let sack = if tp.sack_ok && !tp.reass.is_empty() {
        let blocks = (tp.reass.len() as u32).min(TCP_MAX_SACK as u32);
        4 + 8 * blocks
    } else {
        0
    };
    tp.maxseg().saturating_sub(sack).max(1)
}

/// What the connection should send next, if anything.
fn decide(tp: &mut crate::netinet::tcp_var::Tcb, now: Time, force_probe: bool) -> Option<Seg> {
    // The MSS counts the options out of the data (`t_maxseg - optlen`).
    let mss = seg_size(tp);
    match tp.state {
        TcpState::Closed | TcpState::Listen | TcpState::TimeWait if !tp.ack_now => return None,
        TcpState::Closed | TcpState::Listen => return None,
        TcpState::SynSent | TcpState::SynReceived if tp.snd_nxt == tp.iss => {
            return Some(Seg {
                seq: tp.iss,
                len: 0,
                flags: TH_SYN,
                sack_rexmit: false,
            });
        }
        TcpState::SynSent => return None,
        _ => {}
    }
    let buffered = tp.snd_buf.len() as u32;
    // The FIN's sequence number follows the data; is it (again) to send?
    let fin_seq = tp.snd_una.wrapping_add(buffered);
    let fin_pending = tp.snd_fin && tp.state.fin_unacked() && !seq_gt(tp.snd_nxt, fin_seq);
    if tp.in_recovery && tp.sack_ok && tp.state.synchronized() {
        let cwnd = tp.cwnd;
        if cwnd.saturating_sub(pipe(tp)) >= mss || tp.rexmit_now {
            if let Some((seq, len)) = next_hole(tp) {
                let len = len.min(fin_seq.wrapping_sub(seq));
                if len > 0 {
                    return Some(Seg {
                        seq,
                        len,
                        flags: 0,
                        sack_rexmit: true,
                    });
                }
            }
        } else if !tp.ack_now {
            return None;
        }
    }
    let off = tp.snd_nxt.wrapping_sub(tp.snd_una);
    let wnd = if tp.in_recovery && tp.sack_ok {
        // New data only as the pipe allows.
        off.saturating_add(tp.cwnd.saturating_sub(pipe(tp)))
    } else {
        tp.snd_wnd.min(tp.cwnd)
    };
    let avail = buffered.saturating_sub(off);
    let mut len = avail.min(wnd.saturating_sub(off)).min(mss);
    if len == 0 && force_probe && avail > 0 {
        len = 1; // a window probe
    }
    let all = len > 0 && len == avail;
    let mut flags = 0;
    if len > 0 && all {
        flags |= TH_PUSH;
    }
    let fin_now = fin_pending && off + len == buffered && (len > 0 || tp.snd_nxt == fin_seq);
    if fin_now {
        flags |= TH_FIN;
    }
    let idle = tp.snd_max == tp.snd_una;
    let send_data = len > 0
        && (len == mss
            || (all && (tp.nodelay || idle || tp.snd_fin))
            || len >= tp.max_sndwnd / 2
            || force_probe
            || seq_lt(tp.snd_nxt, tp.snd_max));
    // A window update worth sending (RFC 9293 §3.8.6.2.2, receiver SWS
    // avoidance), as FreeBSD's tcp_output judges it: it opens by two
    // segments and by a quarter of the buffer (or the window left is an
    // eighth of it, or the buffer is small), or by half the buffer.
    let recwin = tp.rcv_space();
    let adv = recwin.saturating_sub(tp.rcv_adv.wrapping_sub(tp.rcv_nxt)) as usize;
    let (hiwat, maxseg) = (tp.rcv_hiwat, tp.maxseg() as usize);
    let worth = (adv >= 2 * maxseg && (adv >= hiwat / 4 || (recwin as usize) <= hiwat / 8 || hiwat <= 8 * maxseg))
        || 2 * adv >= hiwat;
    let winup = tp.state.synchronized() && !tp.fin_rcvd && worth && seq_gt(tp.rcv_nxt.wrapping_add(recwin), tp.rcv_adv);
    if send_data || fin_now {
        return Some(Seg {
            seq: tp.snd_nxt,
            len,
            flags,
            sack_rexmit: false,
        });
    }
    if tp.ack_now || winup {
        return Some(Seg {
            seq: tp.snd_max,
            len: 0,
            flags: 0,
            sack_rexmit: false,
        });
    }
    // Data waits and nothing is in flight to bring news: a window too small
    // to use (or zero) is probed when the persist timer fires (RFC 9293
    // §3.8.6.1; FreeBSD's `tcp_setpersist` when nothing can be sent).
    if avail > 0 && tp.timers.rexmt.is_none() && tp.timers.persist.is_none() && tp.state.synchronized() {
        tp.timers.persist = Some(now.saturating_add(persist_time(tp)));
    }
    None
}

/// The persist interval: the RTO, backed off, within 5 s .. 60 s.
pub fn persist_time(tp: &crate::netinet::tcp_var::Tcb) -> Duration {
    (tp.rto * (1 << tp.rxtshift.min(6))).clamp(Duration::from_secs(5), Duration::from_secs(60))
}

/// Send whatever the connection should send now.
pub fn tcp_output(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    tcp_output_inner(k, v, id, false)
}

/// Send one byte past a zero window (the persist timer fired).
pub fn tcp_output_probe(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    tcp_output_inner(k, v, id, true)
}

fn tcp_output_inner(k: &mut Kernel, v: &mut Vnet, id: TcbId, mut probe: bool) {
    let now = k.now();
    for _ in 0..100_000 {
        let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
        let Some(s) = decide(tp, now, probe) else { break };
        probe = false;
        let new_data = !seq_lt(s.seq, tp.snd_max);
        let r = tcp_send_seg(k, v, id, s, now);
        let t = v.builtin(TCP);
        let Some(tp) = t.get_mut(id) else { return };
        if let Err(IpOutErr::NoBufs) = r {
            // The interface's queue is full: the segment was not sent.
            // FreeBSD's answer: a window of one segment, and a timer so
            // that something brings us back (TCP_XMIT_TIMER_ASSERT).
            tp.cwnd = tp.maxseg();
            if tp.timers.rexmt.is_none() && tp.timers.persist.is_none() {
                tp.timers.rexmt = Some(now.saturating_add(tp.rto));
            }
            break;
        }
        if let Err(IpOutErr::MsgSize(mtu)) = r {
            // The route's MTU is smaller than we thought: use it, try again.
            let mss = mtu.saturating_sub(40).max(64);
            if mss < tp.t_maxseg {
                tp.t_maxseg = mss;
                continue;
            }
            break;
        }
        let fin = s.flags & TH_FIN != 0;
        let syn = s.flags & TH_SYN != 0;
        let span = s.len + fin as u32 + syn as u32;
        if s.sack_rexmit {
            tp.rexmit_now = false;
            tp.sack_rexmit = s.seq.wrapping_add(s.len);
            tp.sack_bytes_rexmit += s.len;
            tp.retransmits += 1;
        } else if span > 0 {
            if !new_data {
                tp.retransmits += 1;
            }
            tp.snd_nxt = s.seq.wrapping_add(span);
            if seq_gt(tp.snd_nxt, tp.snd_max) {
                tp.snd_max = tp.snd_nxt;
            }
            // Time one segment per round trip, never a retransmitted one.
            if new_data && tp.rt_seq.is_none() {
                tp.rt_seq = Some((s.seq, now));
                t.stats.segstimed += 1;
            }
        }
        let Some(tp) = t.get_mut(id) else { return };
        if span > 0 && tp.timers.rexmt.is_none() {
            tp.timers.persist = None;
            tp.timers.rexmt = Some(now.saturating_add(tp.rto));
        }
        match r {
            Ok(()) | Err(IpOutErr::MsgSize(_)) => {}
            Err(IpOutErr::HostDown) => {
                tp.error = Some(SoError::HostDown);
                break;
            }
            Err(IpOutErr::NoRoute) => {
                tp.error = Some(SoError::HostUnreach);
                break;
            }
            Err(_) => break,
        }
        if span == 0 {
            break; // a pure ACK or window update: one is enough
        }
    }
    tcp_timer_update(k, v, id);
}

/// Retransmit one segment at `seq` (fast retransmit, a NewReno partial
/// ACK): up to a segment of data, or the FIN if that is what is there.
pub fn tcp_retransmit(k: &mut Kernel, v: &mut Vnet, id: TcbId, seq: u32) {
    let now = k.now();
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    let buffered = tp.snd_buf.len() as u32;
    let off = seq.wrapping_sub(tp.snd_una);
    let len = buffered.saturating_sub(off).min(seg_size(tp));
    let fin = len == buffered.saturating_sub(off) && tp.snd_fin && tp.state.fin_unacked();
    if len == 0 && !fin {
        return;
    }
    tp.retransmits += 1;
    // Karn: this round trip is not a sample.
    if tp.rt_seq.is_some_and(|(s, _)| !seq_lt(s, seq)) {
        tp.rt_seq = None;
    }
    let s = Seg {
        seq,
        len,
        flags: if fin { TH_FIN } else { 0 },
        sack_rexmit: false,
    };
    let _ = tcp_send_seg(k, v, id, s, now);
    if let Some(tp) = v.builtin(TCP).get_mut(id)
        && tp.timers.rexmt.is_none()
    {
        tp.timers.rexmt = Some(now.saturating_add(tp.rto));
    }
    tcp_timer_update(k, v, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scale_covers_the_buffer() {
        assert_eq!(wscale_for(65535), 0);
        assert_eq!(wscale_for(65536), 1);
        assert_eq!(wscale_for(2 * 1024 * 1024), 6);
        assert_eq!(wscale_for(usize::MAX), 14);
    }

    #[test]
    fn ranges_across_the_ring_seam() {
        assert_eq!(ring_range(b"abc", b"defg", 1, 4), (&b"bc"[..], &b"de"[..]));
        assert_eq!(ring_range(b"abc", b"defg", 4, 2), (&b"ef"[..], &b""[..]));
        assert_eq!(ring_range(b"abc", b"defg", 0, 2), (&b"ab"[..], &b""[..]));
    }
}
