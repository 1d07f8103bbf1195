//! TCP timers (after `tcp_timer.c`): retransmission with exponential
//! backoff (RFC 6298 §5), persist (zero-window probes), keepalive and the
//! connection-establishment limit, delayed ACKs, and 2MSL (TIME_WAIT).

use std::time::Duration;

use crate::kern::Kernel;
use crate::netinet::cc::Window;
use crate::netinet::tcp_output::{persist_time, tcp_output, tcp_output_probe};
use crate::netinet::tcp_subr::{tcp_close, tcp_drop, tcp_respond, tcp_timer_update};
use crate::netinet::tcp_var::{SoError, TCP, TcbId, TcpState};
use crate::vnet::Vnet;
use crate::wire::tcp::TH_ACK;

/// Retransmissions before a connection is dropped (`TCP_MAXRXTSHIFT`).
pub const TCP_MAXRXTSHIFT: u32 = 12;
/// SYN retransmissions before a connect fails.
pub const TCP_SYNRXTSHIFT: u32 = 6;

/// The connection's engine timer fired: run every timer that is due.
pub fn tcp_timer_fire(k: &mut Kernel, v: &mut Vnet, arg: u64) {
    let id = TcbId {
        idx: (arg >> 32) as u32,
        generation: arg as u32,
    };
    let now = k.now();
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    tp.timer = None;
    let due = |t: Option<crate::kern::clock::Time>| t.is_some_and(|t| t <= now);
    let timers = tp.timers;
    if due(timers.twomsl) {
        return tcp_close(k, v, id);
    }
    if due(timers.delack) {
        tp.timers.delack = None;
        tp.ack_now = true;
        v.builtin(TCP).stats.delack += 1;
        tcp_output(k, v, id);
    }
    if due(timers.rexmt) {
        tcp_timer_rexmt(k, v, id);
    }
    if due(timers.persist) {
        tcp_timer_persist(k, v, id);
    }
    if due(timers.keep) {
        tcp_timer_keep(k, v, id);
    }
    tcp_timer_update(k, v, id);
}

/// The retransmission timer: back off, collapse the window, go back to
/// the first unacknowledged byte (RFC 6298 §5.4–5.7, RFC 5681 §3.1).
fn tcp_timer_rexmt(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let now = k.now();
    let t = v.builtin(TCP);
    t.stats.rexmttimeo += 1;
    let Some(tp) = t.get_mut(id) else { return };
    tp.timers.rexmt = None;
    tp.rxtshift += 1;
    let limit = if tp.state == TcpState::SynSent {
        TCP_SYNRXTSHIFT
    } else {
        TCP_MAXRXTSHIFT
    };
    if tp.rxtshift > limit {
        let err = tp.error.unwrap_or(SoError::TimedOut);
        t.stats.timeoutdrop += 1;
        return tcp_drop(k, v, id, Some(err));
    }
    let backoff = (tp.rto * (1 << tp.rxtshift.min(10))).min(Duration::from_secs(64));
    tp.timers.rexmt = Some(now.saturating_add(backoff));
    let mss = tp.maxseg();
    let flight = tp.flight();
    tp.cc.timeout(Window {
        cwnd: &mut tp.cwnd,
        ssthresh: &mut tp.ssthresh,
        mss,
        flight,
    });
    tp.in_recovery = false;
    tp.dupacks = 0;
    tp.recover = tp.snd_max;
    tp.scoreboard.clear();
    tp.sack_bytes_rexmit = 0;
    tp.rt_seq = None;
    // Go back N: everything from snd_una is sent again (a SYN included).
    tp.snd_nxt = if matches!(tp.state, TcpState::SynSent | TcpState::SynReceived) {
        tp.iss
    } else {
        tp.snd_una
    };
    tp.sack_rexmit = tp.snd_una;
    tcp_output(k, v, id);
}

/// The persist timer: probe a zero window with one byte.
fn tcp_timer_persist(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let now = k.now();
    let t = v.builtin(TCP);
    t.stats.persisttimeo += 1;
    t.stats.sndprobe += 1;
    let Some(tp) = t.get_mut(id) else { return };
    tp.timers.persist = None;
    tp.rxtshift = (tp.rxtshift + 1).min(TCP_MAXRXTSHIFT);
    let next = now.saturating_add(persist_time(tp));
    tcp_output_probe(k, v, id);
    if let Some(tp) = v.builtin(TCP).get_mut(id)
        && tp.snd_wnd == 0
        && !tp.snd_buf.is_empty()
    {
        tp.timers.rexmt = None;
        tp.timers.persist = Some(next);
    }
}

/// Keepalive and the limits on connecting and on FIN_WAIT_2.
fn tcp_timer_keep(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let now = k.now();
    let t = v.builtin(TCP);
    t.stats.keeptimeo += 1;
    let (idle, intvl, cnt, fw2) = (
        Duration::from_millis(t.keepidle.max(1) as u64),
        Duration::from_millis(t.keepintvl.max(1) as u64),
        t.keepcnt.max(1) as u32,
        Duration::from_millis(t.finwait2_timeout.max(1) as u64),
    );
    let Some(tp) = t.get_mut(id) else { return };
    tp.timers.keep = None;
    match tp.state {
        TcpState::SynSent | TcpState::SynReceived => {
            let err = tp.error.unwrap_or(SoError::TimedOut);
            return tcp_drop(k, v, id, Some(err));
        }
        TcpState::FinWait2 if tp.orphan => {
            if now.saturating_sub(tp.last_activity) >= fw2 {
                t.stats.finwait2_drops += 1;
                return tcp_close(k, v, id);
            }
            tp.timers.keep = Some(tp.last_activity.saturating_add(fw2));
            return;
        }
        _ => {}
    }
    if !tp.keepalive || !tp.state.synchronized() {
        return;
    }
    if now.saturating_sub(tp.last_activity) < idle {
        tp.timers.keep = Some(tp.last_activity.saturating_add(idle));
        return;
    }
    if tp.keep_probes >= cnt {
        t.stats.keepdrops += 1;
        return tcp_drop(k, v, id, Some(SoError::TimedOut));
    }
    tp.keep_probes += 1;
    tp.timers.keep = Some(now.saturating_add(intvl));
    let ends = tp.ends();
    let (seq, ack) = (tp.snd_una.wrapping_sub(1), tp.rcv_nxt);
    t.stats.keepprobe += 1;
    // An old sequence number: the peer must answer with an ACK.
    tcp_respond(k, v, ends, seq, ack, TH_ACK, 0);
}
