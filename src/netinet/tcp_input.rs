//! TCP input (after `tcp_input.c`, RFC 9293 §3.10.7 "SEGMENT ARRIVES"):
//! validation, demultiplexing to a connection or a listener (with the SYN
//! cache), PAWS (RFC 7323), trimming to the window, RST/SYN/ACK checks
//! against blind attacks (RFC 5961), ACK processing with RTT estimation,
//! fast retransmit and recovery (RFC 5681, 6582, 6675), in-order and
//! out-of-order data (reassembly, SACK), and FIN.

use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::netinet::cc::Window;
use crate::netinet::in_jail::prison_check_ip;
use crate::netinet::in_pcb::{Endpoint, Ends, Owner};
use crate::netinet::protosw::{CtlInput, IpFacts, Prc};
use crate::netinet::tcp_hostcache::tcp_hc_updatemtu;
use crate::netinet::tcp_output::{tcp_output, tcp_retransmit};
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_respond, tcp_timer_update, tcp_ts, tcp_xmit_timer};
use crate::netinet::tcp_syncache::{syncache_add, syncache_chkrst, syncache_expand, syncache_socket};
use crate::netinet::tcp_var::{SoError, TCP, Tcb, TcbId, TcpState};
use crate::vnet::Vnet;
use crate::wire::tcp::{
    TH_ACK, TH_FIN, TH_RST, TH_SYN, TcpErr, TcpHdr, TcpOpts, seq_geq, seq_gt, seq_leq, seq_lt, seq_max, seq_min,
};

/// A segment for this vnet (`m` holds the datagram from its IP header).
pub fn tcp_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, ip: &IpFacts) {
    let now = k.now();
    let t = v.builtin(TCP);
    t.stats.rcvtotal += 1;
    let seg = &m.data()[ip.off..ip.end];
    let (th, to) = match TcpHdr::parse(seg, ip.src, ip.dst, m.csum_delayed()) {
        Ok(x) => x,
        Err(e) => {
            match e {
                TcpErr::Short => t.stats.rcvshort += 1,
                TcpErr::BadOff => t.stats.rcvbadoff += 1,
                TcpErr::BadSum => t.stats.rcvbadsum += 1,
            }
            return;
        }
    };
    // TCP does not do broadcast or multicast.
    if ip.bcast || ip.dst.is_multicast() {
        return;
    }
    let p = Payload {
        off: ip.off + th.off,
        len: seg.len() - th.off,
        m,
    };
    let ends = Ends {
        local: Endpoint::new(ip.dst, th.dport),
        foreign: Endpoint::new(ip.src, th.sport),
    };
    if let Some(&id) = t.conns.get(&ends) {
        if !tcp_twrecycle(t.get(id), &th, &to) {
            return tcp_do_segment(k, v, id, &th, &to, p, now);
        }
        tcp_close(k, v, id);
    }
    let t = v.builtin(TCP);
    // A listener on the address, else a wildcard one: a jail's (that may
    // use the address) before the host's, as in_pcblookup_hash_wild.
    // Wildcards of the datagram's family first, then a dual socket's `::`
    // for IPv4 (IPV6_V6ONLY off).
    let listener = t.listeners.get(&th.dport).and_then(|l| {
        // The address itself, else (how wild, a jail's) in this order.
        let pick = |rank: Option<(u8, bool)>| {
            l.iter().copied().find(|&id| {
                t.get(id).is_some_and(|tp| {
                    let ip4 = Owner::ip4(&tp.owner);
                    match rank {
                        None => tp.local.addr == ip.dst,
                        Some((wild, jailed)) => {
                            tp.vflag.wild(tp.local, ip.dst) == wild
                                && ip4.is_some() == jailed
                                && prison_check_ip(ip4, ip.dst)
                        }
                    }
                })
            })
        };
        [
            None,
            Some((2, true)),
            Some((2, false)),
            Some((1, true)),
            Some((1, false)),
        ]
        .into_iter()
        .find_map(pick)
    });
    match listener {
        Some(lid) => tcp_listen_input(k, v, lid, ends, &th, &to, p, now),
        None => {
            // No socket: a RST, unless it was one (RFC 9293 §3.10.7.1).
            let t = v.builtin(TCP);
            if th.flags & TH_RST != 0 || t.blackhole {
                return;
            }
            tcp_reset_reply(k, v, ends, &th, p.len as u32);
        }
    }
}

/// A segment's data: `len` bytes at `off` in the datagram `m`, which the
/// receive buffer keeps instead of copying them.
struct Payload {
    m: Mbuf,
    off: usize,
    len: usize,
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        &self.m.data()[self.off..self.off + self.len]
    }
}

/// Answer a segment nobody wants with a RST.
fn tcp_reset_reply(k: &mut Kernel, v: &mut Vnet, ends: Ends, th: &TcpHdr, tlen: u32) {
    if th.flags & TH_ACK != 0 {
        tcp_respond(k, v, ends, th.ack, 0, TH_RST, 0);
    } else {
        let span = tlen + (th.flags & TH_SYN != 0) as u32 + (th.flags & TH_FIN != 0) as u32;
        tcp_respond(k, v, ends, 0, th.seq.wrapping_add(span), TH_RST | TH_ACK, 0);
    }
}

/// A segment for a listening socket: a SYN goes to the SYN cache (or gets
/// a cookie); the ACK that completes a handshake becomes a connection on
/// the listener's accept queue.
#[allow(clippy::too_many_arguments)]
fn tcp_listen_input(
    k: &mut Kernel,
    v: &mut Vnet,
    lid: TcbId,
    ends: Ends,
    th: &TcpHdr,
    to: &TcpOpts,
    p: Payload,
    now: Time,
) {
    if th.flags & TH_RST != 0 {
        return syncache_chkrst(v, ends, th);
    }
    if th.flags & TH_ACK != 0 {
        // The third segment of a handshake: from the cache, or a cookie.
        let Some(e) = syncache_expand(v, ends, th, now) else {
            v.builtin(TCP).stats.sc_badack += 1;
            return tcp_reset_reply(k, v, ends, th, p.len as u32);
        };
        let t = v.builtin(TCP);
        let full = t
            .get(lid)
            .and_then(|l| l.listen.as_ref())
            .is_none_or(|l| l.queue.len() >= l.backlog);
        if full {
            // Listen queue overflow: the client will retry.
            t.stats.listendrop += 1;
            return;
        }
        let id = syncache_socket(v, lid, &e, th, to, now);
        return tcp_do_segment(k, v, id, th, to, p, now);
    }
    if th.flags & TH_SYN == 0 || th.flags & TH_FIN != 0 {
        return;
    }
    syncache_add(k, v, ends, th, to, now);
}

/// Knobs input reads, copied out of the vnet's TCP state.
#[derive(Clone, Copy)]
struct Knobs {
    delayed_ack: bool,
    delacktime: Duration,
    msl: Duration,
    recvbuf_auto: bool,
    recvbuf_max: usize,
    finwait2: Duration,
    reass_max: usize,
}

/// Process a segment for an existing connection.
/// A new connection's SYN for a pair of ends still in TIME_WAIT, beyond
/// the old one's sequence numbers or timestamps: the old one may go and
/// the SYN open anew (RFC 6191; FreeBSD's `tcp_twcheck`). Else a client
/// reusing a port within 2 MSL would be challenged until it expired.
fn tcp_twrecycle(tp: Option<&Tcb>, th: &TcpHdr, to: &TcpOpts) -> bool {
    let Some(tp) = tp else { return false };
    let newer_ts = tp.ts_ok && to.ts.is_some_and(|(tsval, _)| seq_gt(tsval, tp.ts_recent));
    tp.state == TcpState::TimeWait
        && th.flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN) == TH_SYN
        && (seq_gt(th.seq, tp.rcv_nxt) || newer_ts)
}

fn tcp_do_segment(k: &mut Kernel, v: &mut Vnet, id: TcbId, th: &TcpHdr, to: &TcpOpts, p: Payload, now: Time) {
    let all = p.bytes();
    let data = all;
    let t = v.builtin(TCP);
    let knobs = Knobs {
        delayed_ack: t.delayed_ack,
        delacktime: Duration::from_millis(t.delacktime.max(1) as u64),
        msl: Duration::from_millis(t.msl.max(1) as u64),
        recvbuf_auto: t.recvbuf_auto,
        recvbuf_max: t.recvbuf_max.max(1) as usize,
        finwait2: Duration::from_millis(t.finwait2_timeout.max(1) as u64),
        reass_max: t.reass_maxqueuelen.max(1) as usize,
    };
    let init_cwnd_segs = t.initcwnd_segments.max(1) as u32;
    let Some((tp, st)) = t.tcb_stats(id) else { return };
    tp.last_activity = now;
    tp.keep_probes = 0;
    if tp.state == TcpState::SynSent {
        return tcp_syn_sent(k, v, id, th, to, now, init_cwnd_segs);
    }
    if matches!(tp.state, TcpState::Closed | TcpState::Listen) {
        return;
    }
    let syn = th.flags & TH_SYN != 0;
    let rst = th.flags & TH_RST != 0;
    let tiwin = (th.win as u32) << tp.snd_scale;
    // PAWS: an old timestamp means an old duplicate (RFC 7323 §5.3).
    if tp.ts_ok
        && !rst
        && let Some((tsval, _)) = to.ts
        && tp.ts_recent != 0
        && seq_lt(tsval, tp.ts_recent)
        && now.saturating_sub(tp.ts_recent_age) < Duration::from_secs(24 * 24 * 3600)
    {
        st.pawsdrop += 1;
        st.rcvduppack += 1;
        st.rcvdupbyte += data.len() as u64;
        // Data is acknowledged; a stale pure ACK is only dropped.
        if data.is_empty() {
            return;
        }
        tp.ack_now = true;
        return tcp_output(k, v, id);
    }
    // The SYN we already have (its SYN-ACK in a simultaneous open, or a
    // resend): trimmed off as old, the rest of the segment counts.
    let mut seq = th.seq;
    let mut syn = syn;
    if syn && th.seq == tp.irs {
        syn = false;
        seq = seq.wrapping_add(1);
        tp.ack_now = true;
        if th.flags & TH_ACK == 0 {
            if tp.state != TcpState::SynReceived {
                return tcp_output(k, v, id);
            }
            tp.ack_now = false;
            return; // the peer resent its SYN: ours is on its way again
        }
    }
    // Any other SYN on a synchronized connection: challenge it (RFC 5961 §4).
    if syn {
        st.badsyn += 1;
        st.challenge_acks += 1;
        tp.ack_now = true;
        return tcp_output(k, v, id);
    }
    // Trim to the receive window (RFC 9293 §3.10.7.4, first check).
    let mut data = data;
    let mut fin = th.flags & TH_FIN != 0;
    let rwnd = if seq_gt(tp.rcv_adv, tp.rcv_nxt) {
        tp.rcv_adv.wrapping_sub(tp.rcv_nxt).max(tp.rcv_space())
    } else {
        tp.rcv_space()
    };
    let todrop = tp.rcv_nxt.wrapping_sub(seq) as i32;
    if todrop > 0 {
        let todrop = todrop as usize;
        if todrop > data.len() || (todrop == data.len() && !fin) {
            // Entirely old (a retransmission we have): acknowledge it.
            st.rcvduppack += 1;
            st.rcvdupbyte += data.len() as u64;
            if rst {
                return;
            }
            if todrop > data.len() {
                fin = false;
            }
            data = &[];
            seq = tp.rcv_nxt;
            tp.ack_now = true;
        } else {
            st.rcvpartduppack += 1;
            st.rcvpartdupbyte += todrop as u64;
            data = &data[todrop..];
            seq = seq.wrapping_add(todrop as u32);
        }
    }
    let excess = seq
        .wrapping_add(data.len() as u32)
        .wrapping_sub(tp.rcv_nxt.wrapping_add(rwnd)) as i32;
    if excess > 0 {
        st.rcvpackafterwin += 1;
        let excess = excess as usize;
        if excess >= data.len() && !(data.is_empty() && seq == tp.rcv_nxt) {
            if rwnd == 0 && seq == tp.rcv_nxt {
                st.rcvwinprobe += 1;
            } else {
                st.rcvbyteafterwin += data.len() as u64;
            }
            if rst {
                return;
            }
            tp.ack_now = true;
            data = &[];
            fin = false;
        } else if excess > 0 && excess <= data.len() {
            st.rcvbyteafterwin += excess as u64;
            data = &data[..data.len() - excess];
            fin = false;
        }
    }
    // RST: only the exact next sequence resets; in the window it is
    // challenged (RFC 5961 §3.2).
    if rst {
        if th.seq == tp.rcv_nxt {
            let err = match tp.state {
                TcpState::SynReceived => SoError::ConnRefused,
                TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 | TcpState::CloseWait => {
                    SoError::ConnReset
                }
                _ => SoError::ConnReset,
            };
            let quiet = matches!(tp.state, TcpState::Closing | TcpState::LastAck | TcpState::TimeWait);
            if !quiet {
                tp.error = Some(err);
            }
            st.drops += 1;
            return tcp_close(k, v, id);
        }
        if seq_geq(th.seq, tp.rcv_nxt) && seq_lt(th.seq, tp.rcv_nxt.wrapping_add(rwnd.max(1))) {
            st.badrst += 1;
            st.challenge_acks += 1;
            tp.ack_now = true;
            return tcp_output(k, v, id);
        }
        return;
    }
    if th.flags & TH_ACK == 0 {
        if !data.is_empty() || fin {
            tp.ack_now = true;
        }
        return tcp_output(k, v, id);
    }
    // Remember the peer's timestamp (RFC 7323 §4.3).
    if tp.ts_ok
        && let Some((tsval, _)) = to.ts
        && seq_leq(th.seq, tp.rcv_nxt)
        && seq_geq(tsval, tp.ts_recent)
    {
        tp.ts_recent = tsval;
        tp.ts_recent_age = now;
    }
    // The handshake completes (a simultaneous open).
    if tp.state == TcpState::SynReceived {
        if seq_gt(th.ack, tp.snd_una) && seq_leq(th.ack, tp.snd_max) {
            tp.state = TcpState::Established;
            tp.snd_wnd = tiwin;
            tp.snd_wl1 = th.seq;
            tp.snd_wl2 = th.ack;
            tp.cwnd = init_cwnd_segs * tp.maxseg();
            st.connects += 1;
            tp.wake_all();
        } else {
            let ends = tp.ends();
            return tcp_respond(k, v, ends, th.ack, 0, TH_RST, 0);
        }
    }
    // An ACK for data never sent: acknowledge and drop (RFC 5961 §5).
    if seq_gt(th.ack, tp.snd_max) {
        st.rcvacktoomuch += 1;
        st.challenge_acks += 1;
        tp.ack_now = true;
        return tcp_output(k, v, id);
    }
    let mss = tp.maxseg();
    if to.sack.n > 0 && tp.sack_ok {
        st.sack_rcv_blocks += to.sack.n as u64;
        sack_update(tp, to);
    }
    let mut ourfinisacked = false;
    if seq_leq(th.ack, tp.snd_una) {
        // A duplicate ACK (RFC 5681 §2, with RFC 6675's SACK test).
        let dup = data.is_empty()
            && !fin
            && th.ack == tp.snd_una
            && tp.snd_max != tp.snd_una
            && (tiwin == tp.snd_wnd || to.sack.n > 0);
        if dup {
            st.rcvdupack += 1;
            tp.dupacks += 1;
            if tp.in_recovery {
                if !tp.sack_ok {
                    // NewReno: each duplicate is a segment that left.
                    tp.cwnd = tp.cwnd.saturating_add(mss);
                }
                return tcp_output(k, v, id);
            }
            let sacked_above: u32 = tp.scoreboard.iter().map(|&(s, e)| e.wrapping_sub(s)).sum();
            if tp.dupacks >= 3 || (tp.sack_ok && sacked_above >= 3 * mss) {
                // Fast retransmit; enter recovery unless still in the last.
                if seq_gt(th.ack, tp.recover) || tp.recover == tp.snd_una {
                    let flight = tp.flight();
                    tp.cc.cong_signal(Window {
                        cwnd: &mut tp.cwnd,
                        ssthresh: &mut tp.ssthresh,
                        mss,
                        flight,
                    });
                    tp.in_recovery = true;
                    tp.recover = tp.snd_max;
                    tp.rt_seq = None;
                    if tp.sack_ok {
                        // RFC 6675 §5: the holes go out as the pipe allows,
                        // the first at once.
                        st.sack_recovery_episode += 1;
                        tp.cwnd = tp.ssthresh;
                        tp.sack_rexmit = tp.snd_una;
                        tp.sack_bytes_rexmit = 0;
                        tp.rexmit_now = true;
                        return tcp_output(k, v, id);
                    }
                    tp.cwnd = tp.ssthresh + 3 * mss;
                    let una = tp.snd_una;
                    tcp_retransmit(k, v, id, una);
                    return tcp_output(k, v, id);
                }
            }
            return tcp_output(k, v, id);
        }
    } else {
        // New data acknowledged.
        let acked = th.ack.wrapping_sub(tp.snd_una);
        st.rcvackpack += 1;
        st.rcvackbyte += acked as u64;
        if let Some((s, sent)) = tp.rt_seq
            && seq_gt(th.ack, s)
        {
            tp.rt_seq = None;
            let rtt = now.saturating_sub(sent);
            tcp_xmit_timer(v, id, rtt);
        }
        let t = v.builtin(TCP);
        let Some(tp) = t.get_mut(id) else { return };
        let buffered = tp.snd_buf.len() as u32;
        let fin_in_flight =
            tp.snd_fin && tp.state.fin_unacked() && seq_gt(tp.snd_max, tp.snd_una.wrapping_add(buffered));
        ourfinisacked = fin_in_flight && acked > buffered;
        let drain = (acked.min(buffered)) as usize;
        tp.snd_buf.drain(..drain);
        tp.snd_una = th.ack;
        if seq_lt(tp.snd_nxt, tp.snd_una) {
            tp.snd_nxt = tp.snd_una;
        }
        tp.scoreboard.retain(|&(_, e)| seq_gt(e, th.ack));
        if let Some(first) = tp.scoreboard.first_mut() {
            first.0 = seq_max(first.0, th.ack);
        }
        if tp.in_recovery {
            if seq_geq(th.ack, tp.recover) {
                // Full ACK: recovery is over (RFC 6582 §3.2 step 3).
                tp.in_recovery = false;
                tp.cwnd = tp.ssthresh.min(tp.flight().saturating_add(mss)).max(mss);
                tp.sack_bytes_rexmit = 0;
                tp.dupacks = 0;
            } else if tp.sack_ok {
                tp.sack_bytes_rexmit = tp.sack_bytes_rexmit.saturating_sub(acked);
                if seq_lt(tp.sack_rexmit, tp.snd_una) {
                    tp.sack_rexmit = tp.snd_una;
                }
            } else {
                // A partial ACK: the next hole is lost too (RFC 6582 §3.2 step 5).
                tp.cwnd = tp.cwnd.saturating_sub(acked).saturating_add(mss);
                let una = tp.snd_una;
                tcp_retransmit(k, v, id, una);
            }
        } else if tp.cwnd <= tp.snd_wnd {
            // Grow only a window that limits the sender (`CCF_CWND_LIMITED`).
            tp.dupacks = 0;
            let srtt = tp.srtt.unwrap_or_default();
            let flight = tp.flight();
            tp.cc.ack_received(
                Window {
                    cwnd: &mut tp.cwnd,
                    ssthresh: &mut tp.ssthresh,
                    mss,
                    flight,
                },
                acked.min(buffered.max(1)),
                now,
                srtt,
            );
            tp.recover = tp.snd_una;
        } else {
            tp.dupacks = 0;
            tp.recover = tp.snd_una;
        }
        let t = v.builtin(TCP);
        let Some(tp) = t.get_mut(id) else { return };
        tp.rxtshift = 0;
        if tp.snd_una == tp.snd_max {
            tp.timers.rexmt = None;
        } else {
            tp.timers.rexmt = Some(now.saturating_add(tp.rto));
        }
        tp.wake_writer();
    }
    let t = v.builtin(TCP);
    let Some((tp, st)) = t.tcb_stats(id) else { return };
    // The send window (RFC 9293 §3.10.7.4, "fifth": update SND.WND).
    if seq_lt(tp.snd_wl1, seq) || (tp.snd_wl1 == seq && seq_leq(tp.snd_wl2, th.ack)) {
        if tiwin > tp.snd_wnd {
            st.rcvwinupd += u64::from(data.is_empty());
        }
        if tp.snd_wnd == 0 && tiwin > 0 {
            tp.timers.persist = None;
        }
        tp.snd_wnd = tiwin;
        tp.snd_wl1 = seq;
        tp.snd_wl2 = th.ack;
        tp.max_sndwnd = tp.max_sndwnd.max(tiwin);
    }
    if ourfinisacked {
        match tp.state {
            TcpState::FinWait1 => {
                tp.state = TcpState::FinWait2;
                if tp.orphan {
                    tp.timers.keep = Some(now.saturating_add(knobs.finwait2));
                }
            }
            TcpState::Closing => {
                tp.state = TcpState::TimeWait;
                tp.timers = Default::default();
                tp.timers.twomsl = Some(now.saturating_add(knobs.msl * 2));
            }
            TcpState::LastAck => return tcp_close(k, v, id),
            _ => {}
        }
    }
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    let dlen = data.len();
    if dlen > 0 && tp.state.can_recv() {
        let rtt = rcv_rtt(tp, to, now);
        // What is left after trimming, as a part of the packet.
        let off = p.off + (data.as_ptr() as usize - all.as_ptr() as usize);
        let p = Payload { off, len: dlen, ..p };
        tcp_data(v, id, seq, p, knobs, now, rtt);
    } else if dlen > 0 {
        v.builtin(TCP).stats.rcvafterclose += 1;
    }
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    if fin && !tp.fin_rcvd && tp.state.can_recv() {
        // It counts once the data before it is here (it may be already).
        tp.rcv_fin = Some(seq.wrapping_add(dlen as u32));
        tp.ack_now = true;
    } else if fin {
        // A FIN again: our ACK of it was lost; in TIME_WAIT, wait anew.
        tp.ack_now = true;
        if tp.state == TcpState::TimeWait {
            tp.timers.twomsl = Some(now.saturating_add(knobs.msl * 2));
        }
    }
    if tp.rcv_fin == Some(tp.rcv_nxt) && !tp.fin_rcvd && tp.reass.is_empty() {
        tcp_fin(tp, now, knobs);
    }
    tcp_output(k, v, id);
}

/// The peer's FIN, in order: the end of its data.
fn tcp_fin(tp: &mut Tcb, now: Time, knobs: Knobs) {
    tp.fin_rcvd = true;
    tp.rcv_nxt = tp.rcv_nxt.wrapping_add(1);
    tp.ack_now = true;
    tp.wake_reader();
    tp.state = match tp.state {
        TcpState::Established => TcpState::CloseWait,
        TcpState::FinWait1 => TcpState::Closing,
        TcpState::FinWait2 => {
            tp.timers = Default::default();
            tp.timers.twomsl = Some(now.saturating_add(knobs.msl * 2));
            TcpState::TimeWait
        }
        s => s,
    };
}

/// Data in the window: in order into the receive buffer, else into the
/// reassembly queue (and a SACK goes back at once).
/// The round trip as the receiver sees it: the smoothed RTT, or the age
/// of the timestamp the peer echoes.
fn rcv_rtt(tp: &Tcb, to: &TcpOpts, now: Time) -> Option<Duration> {
    tp.srtt.or_else(|| {
        let (_, tsecr) = to.ts?;
        (tsecr != 0).then(|| Duration::from_millis(u64::from(tcp_ts(now).wrapping_sub(tsecr).max(1))))
    })
}

#[allow(clippy::too_many_arguments)]
fn tcp_data(v: &mut Vnet, id: TcbId, seq: u32, p: Payload, knobs: Knobs, now: Time, rtt: Option<Duration>) {
    let t = v.builtin(TCP);
    let Some((tp, st)) = t.tcb_stats(id) else { return };
    let n = p.len;
    if seq == tp.rcv_nxt && tp.reass.is_empty() {
        tp.rcv_buf.append(p.m, p.off, n);
        tp.rcv_nxt = tp.rcv_nxt.wrapping_add(n as u32);
        tp.rcv_off += n as u64;
        st.rcvpack += 1;
        st.rcvbyte += n as u64;
        // Acknowledge every second full segment, else after delacktime.
        tp.delack_segs += 1;
        if !knobs.delayed_ack || tp.delack_segs >= 2 {
            tp.ack_now = true;
        } else if tp.timers.delack.is_none() {
            tp.timers.delack = Some(now.saturating_add(knobs.delacktime));
        }
    } else {
        tp.ack_now = true;
        if seq != tp.rcv_nxt && tp.reass.len() >= knobs.reass_max {
            // The queue is full: only what fills the hole gets in.
            st.rcvmemdrop += 1;
            return;
        }
        st.rcvoopack += 1;
        st.rcvoobyte += n as u64;
        reass_insert(tp, seq, p.bytes());
        tp.last_ooo = Some((seq, seq.wrapping_add(n as u32)));
        let before = tp.rcv_nxt;
        reass_pull(tp);
        if tp.rcv_nxt != before {
            st.rcvpack += 1;
            st.rcvbyte += tp.rcv_nxt.wrapping_sub(before) as u64;
        }
    }
    // Automatic receive buffer sizing (`tcp_autorcvbuf`): when more than
    // 3/8 of the buffer arrives within half a round trip, it grows by half.
    if knobs.recvbuf_auto && tp.rcv_autosize && tp.rcv_hiwat < knobs.recvbuf_max {
        match (tp.rfbuf_ts, rtt) {
            (Some(ts), Some(rtt)) if now.saturating_sub(ts) > rtt / 2 => {
                if tp.rfbuf_cnt > tp.rcv_hiwat / 8 * 3 {
                    tp.rcv_hiwat = (tp.rcv_hiwat + tp.rcv_hiwat / 2).min(knobs.recvbuf_max);
                }
                tp.rfbuf_ts = None;
                tp.rfbuf_cnt = 0;
            }
            (None, _) => {
                tp.rfbuf_ts = Some(now);
                tp.rfbuf_cnt = n;
            }
            _ => tp.rfbuf_cnt += n,
        }
    }
    tp.wake_reader();
}

/// Keep the new bytes of an out-of-order segment (first copy wins).
fn reass_insert(tp: &mut Tcb, seq: u32, data: &[u8]) {
    // Offsets count bytes from the first, so they never wrap.
    let start = tp.rcv_off + u64::from(seq.wrapping_sub(tp.rcv_nxt));
    let end = start + data.len() as u64;
    let mut pieces = Vec::new();
    let mut at = start;
    for (&o, d) in tp.reass.range(..end) {
        let oe = o + d.len() as u64;
        if oe <= at {
            continue;
        }
        if o > at {
            pieces.push((at, o));
        }
        at = at.max(oe);
    }
    if at < end {
        pieces.push((at, end));
    }
    for (a, b) in pieces {
        tp.reass_bytes += (b - a) as usize;
        tp.reass
            .insert(a, data[(a - start) as usize..(b - start) as usize].to_vec());
    }
}

/// Move what the reassembly queue holds at `rcv_nxt` on into the buffer.
fn reass_pull(tp: &mut Tcb) {
    while let Some((&o, _)) = tp.reass.first_key_value() {
        if o > tp.rcv_off {
            break;
        }
        let Some((o, d)) = tp.reass.pop_first() else { break };
        tp.reass_bytes -= d.len();
        let skip = (tp.rcv_off - o) as usize;
        if skip < d.len() {
            let n = (d.len() - skip) as u32;
            let mut m = Mbuf::from_vec(d);
            m.adj(skip);
            tp.rcv_buf.append(m, 0, n as usize);
            tp.rcv_nxt = tp.rcv_nxt.wrapping_add(n);
            tp.rcv_off += n as u64;
        }
    }
    if tp.reass.is_empty() {
        tp.last_ooo = None;
    }
}

/// Merge the SACK blocks of a segment into the scoreboard (RFC 2018),
/// ignoring blocks below `snd_una` or beyond `snd_max`.
fn sack_update(tp: &mut Tcb, to: &TcpOpts) {
    for (s, e) in to.sack.iter() {
        if !seq_lt(s, e) || seq_leq(e, tp.snd_una) || seq_gt(e, tp.snd_max) {
            continue;
        }
        let s = seq_max(s, tp.snd_una);
        let mut ns = s;
        let mut ne = e;
        tp.scoreboard.retain(|&(bs, be)| {
            if seq_leq(bs, ne) && seq_geq(be, ns) {
                ns = seq_min(ns, bs);
                ne = seq_max(ne, be);
                false
            } else {
                true
            }
        });
        let pos = tp
            .scoreboard
            .iter()
            .position(|&(bs, _)| seq_gt(bs, ns))
            .unwrap_or(tp.scoreboard.len());
        tp.scoreboard.insert(pos, (ns, ne));
        if tp.scoreboard.len() > 64 {
            tp.scoreboard.remove(0);
        }
    }
}

/// SYN_SENT: the answer to our SYN (RFC 9293 §3.10.7.3).
fn tcp_syn_sent(k: &mut Kernel, v: &mut Vnet, id: TcbId, th: &TcpHdr, to: &TcpOpts, now: Time, iw: u32) {
    let t = v.builtin(TCP);
    let Some(tp) = t.get_mut(id) else { return };
    let ack = th.flags & TH_ACK != 0;
    let ends = tp.ends();
    if ack && (seq_leq(th.ack, tp.iss) || seq_gt(th.ack, tp.snd_max)) {
        if th.flags & TH_RST == 0 {
            tcp_respond(k, v, ends, th.ack, 0, TH_RST, 0);
        }
        return;
    }
    if th.flags & TH_RST != 0 {
        if ack {
            return tcp_drop(k, v, id, Some(SoError::ConnRefused));
        }
        return;
    }
    if th.flags & TH_SYN == 0 {
        return;
    }
    tp.irs = th.seq;
    tp.rcv_nxt = th.seq.wrapping_add(1);
    tp.rcv_adv = tp.rcv_nxt;
    if let Some(m) = to.mss {
        tp.t_maxseg = tp.t_maxseg.min(m as u32).max(64);
    } else {
        tp.t_maxseg = tp.t_maxseg.min(536);
    }
    match to.wscale {
        Some(w) if tp.rcv_scale > 0 || tp.snd_scale == 0 => tp.snd_scale = w,
        _ => {
            tp.snd_scale = 0;
            tp.rcv_scale = 0;
        }
    }
    if to.wscale.is_none() {
        tp.rcv_scale = 0;
    }
    tp.sack_ok = tp.sack_ok && to.sack_ok;
    match to.ts {
        Some((tsval, _)) if tp.ts_ok => {
            tp.ts_recent = tsval;
            tp.ts_recent_age = now;
        }
        _ => tp.ts_ok = false,
    }
    if ack {
        tp.snd_una = th.ack;
        if seq_lt(tp.snd_nxt, tp.snd_una) {
            tp.snd_nxt = tp.snd_una;
        }
        tp.state = TcpState::Established;
        tp.snd_wnd = th.win as u32;
        tp.max_sndwnd = tp.snd_wnd;
        tp.snd_wl1 = th.seq;
        tp.snd_wl2 = th.ack;
        tp.cwnd = iw * tp.maxseg();
        tp.recover = tp.snd_una;
        tp.sack_rexmit = tp.snd_una;
        tp.timers.rexmt = None;
        tp.timers.keep = None;
        tp.rxtshift = 0;
        tp.ack_now = true;
        tp.error = None;
        tp.wake_all();
        let sample = tp.rt_seq.take().map(|(_, sent)| now.saturating_sub(sent));
        v.builtin(TCP).stats.connects += 1;
        if let Some(rtt) = sample {
            tcp_xmit_timer(v, id, rtt);
        }
    } else {
        // Both opened at once: SYN_RECEIVED, and our SYN again with an ACK.
        tp.state = TcpState::SynReceived;
        tp.snd_nxt = tp.iss;
    }
    tcp_output(k, v, id);
    tcp_timer_update(k, v, id);
}

/// An ICMP error about a segment we sent (`tcp_ctlinput`): fragmentation
/// needed lowers the MSS and resends (RFC 1191, with RFC 5927's check that
/// the quoted sequence number is in flight); an unreachable port or
/// protocol refuses a connection being opened; other errors are soft.
pub fn tcp_ctlinput(k: &mut Kernel, v: &mut Vnet, c: &CtlInput) {
    let Some((sport, dport, seq)) = crate::wire::tcp::quoted_ports_seq(c.quote) else {
        return;
    };
    let ends = Ends {
        local: Endpoint::new(c.src, sport),
        foreign: Endpoint::new(c.dst, dport),
    };
    let tcp = v.builtin(TCP);
    let Some(&id) = tcp.conns.get(&ends) else {
        return;
    };
    let Some(tp) = tcp.get_mut(id) else { return };
    if seq_lt(seq, tp.snd_una) || seq_geq(seq, tp.snd_max) {
        return;
    }
    match c.prc {
        Prc::MsgSize(mtu) => {
            // IPv4 remembers the path's MTU here, where the quote is
            // checked; IPv6 did for every protocol (icmp6_mtudisc_update)
            // and never goes below its minimum MTU.
            let (hdrs, min) = if c.dst.is_ipv4() { (40, 68) } else { (60, 1280) };
            let mss = mtu.saturating_sub(hdrs);
            if mtu >= min && mss < tp.t_maxseg {
                if c.dst.is_ipv4() {
                    tcp_hc_updatemtu(v, k.now(), c.dst, mtu);
                }
                let Some((tp, st)) = v.builtin(TCP).tcb_stats(id) else {
                    return;
                };
                tp.t_maxseg = mss.max(64);
                st.mturesent += 1;
                tp.snd_nxt = tp.snd_una;
                tp.scoreboard.clear();
                tcp_output(k, v, id);
            }
        }
        Prc::UnreachPort if tp.state == TcpState::SynSent => {
            tcp_drop(k, v, id, Some(SoError::ConnRefused));
        }
        Prc::UnreachPort | Prc::Unreach => {
            tp.error = Some(SoError::HostUnreach);
            if tp.state == TcpState::SynSent && tp.rxtshift >= 3 {
                tcp_drop(k, v, id, Some(SoError::HostUnreach));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcb() -> Tcb {
        let t = crate::netinet::tcp_var::Tcp::default();
        let mut tp = Tcb::new(TcbId { idx: 0, generation: 1 }, &t);
        tp.irs = 999;
        tp.rcv_nxt = 1000;
        tp
    }

    #[test]
    fn reassembly_fills_holes_and_keeps_the_first_copy() {
        let mut tp = tcb();
        reass_insert(&mut tp, 1010, b"KLMNO");
        reass_insert(&mut tp, 1005, b"fghijXX"); // overlaps KL: first wins
        assert_eq!(tp.reass_bytes, 10);
        reass_pull(&mut tp);
        assert_eq!(tp.rcv_nxt, 1000, "still a hole at 1000");
        tp.rcv_buf.append_vec(b"abcde".to_vec());
        tp.rcv_nxt = 1005;
        tp.rcv_off = 5;
        reass_pull(&mut tp);
        assert_eq!(tp.rcv_nxt, 1015);
        assert_eq!(tp.rcv_buf.to_vec(), b"abcdefghijKLMNO");
        assert_eq!(tp.reass_bytes, 0);
    }

    #[test]
    fn a_retransmission_overlapping_the_queue_fills_the_hole() {
        let mut tp = tcb();
        reass_insert(&mut tp, 1005, b"fghij");
        reass_insert(&mut tp, 1000, b"abcdefgh"); // its tail is queued already
        reass_pull(&mut tp);
        assert_eq!(tp.rcv_nxt, 1010);
        assert_eq!(tp.rcv_buf.to_vec(), b"abcdefghij");
    }

    #[test]
    fn scoreboard_merges_and_ignores_nonsense() {
        let mut tp = tcb();
        tp.snd_una = 100;
        tp.snd_max = 1000;
        let mut o = TcpOpts::default();
        o.sack.push(300, 400);
        o.sack.push(500, 600);
        sack_update(&mut tp, &o);
        let mut o = TcpOpts::default();
        o.sack.push(350, 550); // joins both
        o.sack.push(50, 90); // below snd_una
        o.sack.push(900, 2000); // beyond snd_max
        sack_update(&mut tp, &o);
        assert_eq!(tp.scoreboard, vec![(300, 600)]);
    }
}
