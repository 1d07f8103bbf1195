//! The SYN cache and SYN cookies (after `tcp_syncache.c`): a listening
//! socket keeps half-open connections in a bounded cache, not as full
//! TCBs; when the cache is full, SYN cookies keep a SYN flood from costing
//! any memory at all. SYN-ACKs are retransmitted (3 times) until the cache
//! entry expires.

use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::netinet::in_pcb::Ends;
use crate::netinet::protosw::pr_output;
use crate::netinet::tcp_output::wscale_for;
use crate::netinet::tcp_subr::{tcp_iss, tcp_mss_for, tcp_ts};
use crate::netinet::tcp_var::{TCP, TcbId, TcpState};
use crate::vnet::Vnet;
use crate::wire::tcp::{TH_ACK, TH_SYN, TcpHdr, TcpOpts, seq_gt, seq_leq};

/// SYN-ACK retransmissions before an entry goes (`syncache.rexmtlimit`).
pub const SYNCACHE_REXMTLIMIT: u32 = 3;

/// A half-open connection.
#[derive(Clone, Copy, Debug)]
pub struct ScEntry {
    pub ends: Ends,
    pub iss: u32,
    pub irs: u32,
    /// The peer's options.
    pub peer_mss: Option<u16>,
    pub peer_wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<u32>,
    /// Our window scale.
    pub rcv_scale: u8,
    pub rxmits: u32,
    pub next: Time,
}

/// The cache of a vnet.
#[derive(Debug, Default)]
pub struct Syncache {
    pub entries: FxHashMap<Ends, ScEntry>,
    timer: Option<TimerId>,
}

impl Syncache {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn drain(self, k: &mut Kernel) {
        if let Some(t) = self.timer {
            k.untimeout(t);
        }
    }
}

/// The MSS values a cookie can carry (FreeBSD's table).
const COOKIE_MSS: [u16; 8] = [216, 536, 1200, 1360, 1400, 1440, 1452, 1460];

/// The data a SYN cookie keeps: the peer's MSS (rounded down to the
/// table), window scale and SACK permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieData {
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
}

fn encode(d: &CookieData) -> u32 {
    let idx = COOKIE_MSS.iter().rposition(|&m| m <= d.mss).unwrap_or(0) as u32;
    let ws = d.wscale.map_or(15, |w| w.min(14)) as u32;
    idx | (ws << 3) | ((d.sack_ok as u32) << 7)
}

fn decode(bits: u32) -> CookieData {
    let ws = (bits >> 3) & 0xf;
    CookieData {
        mss: COOKIE_MSS[(bits & 7) as usize],
        wscale: (ws != 15).then_some(ws as u8),
        sack_ok: bits & 0x80 != 0,
    }
}

/// 15-second periods; a cookie is good for this one and the two before.
fn period(now: Time) -> u64 {
    now.0 / 15_000_000_000
}

/// The ISN that is a SYN cookie for this connection (RFC 4987 §3.6).
pub fn cookie_make(secret: (u64, u64), ends: &Ends, irs: u32, d: &CookieData, now: Time) -> u32 {
    let bits = encode(d);
    let h = crate::netinet::tcp_subr::tcp_hash(
        secret,
        ends,
        ((irs as u64) << 32) | ((period(now) & 0xffff) << 8) | bits as u64,
    );
    ((h as u32) & 0xffff_ff00) | bits
}

/// If `iss` (the ACK less one) is a cookie we made lately, its data.
pub fn cookie_check(secret: (u64, u64), ends: &Ends, irs: u32, iss: u32, now: Time) -> Option<CookieData> {
    let d = decode(iss & 0xff);
    let p = period(now);
    (0..3).find_map(|back| {
        let at = Time(p.checked_sub(back)? * 15_000_000_000);
        (cookie_make(secret, ends, irs, &d, at) == iss).then_some(d)
    })
}

/// Make sure the cache's timer runs while it holds entries.
pub fn syncache_arm(k: &mut Kernel, v: &mut Vnet) {
    let t = v.builtin(crate::netinet::tcp_var::TCP);
    if t.syncache.timer.is_some_and(|id| k.callout.pending(id)) || t.syncache.is_empty() {
        return;
    }
    let id = k.timeout(
        Duration::from_millis(500),
        Action::Vnet {
            vnet: v.id(),
            f: syncache_timer,
            arg: 0,
        },
    );
    v.builtin(crate::netinet::tcp_var::TCP).syncache.timer = Some(id);
}

/// Retransmit SYN-ACKs that are due; forget entries that used up their
/// retransmissions.
fn syncache_timer(k: &mut Kernel, v: &mut Vnet, _: u64) {
    let now = k.now();
    let t = v.builtin(crate::netinet::tcp_var::TCP);
    t.syncache.timer = None;
    let mut resend = Vec::new();
    let mut gone = 0;
    t.syncache.entries.retain(|_, e| {
        if e.next > now {
            return true;
        }
        if e.rxmits >= SYNCACHE_REXMTLIMIT {
            gone += 1;
            return false;
        }
        e.rxmits += 1;
        e.next = now.saturating_add(Duration::from_secs(1 << e.rxmits));
        resend.push(*e);
        true
    });
    t.stats.sc_stale += gone;
    t.stats.sc_retransmitted += resend.len() as u64;
    // A deterministic order, whatever the hash map's.
    resend.sort_by_key(|e| (e.ends.foreign, e.ends.local));
    for e in resend {
        syncache_respond(k, v, &e);
    }
    syncache_arm(k, v);
}

/// The SYN-ACK for a SYN cache entry (first send and retransmissions).
pub fn syncache_respond(k: &mut Kernel, v: &mut Vnet, e: &ScEntry) {
    let now = k.now();
    let mss = tcp_mss_for(v, now, e.ends.foreign.addr);
    let t = v.builtin(TCP);
    let win = (t.recvspace.max(1) as u32).min(65535) as u16;
    let o = TcpOpts {
        mss: Some(mss.min(65535) as u16),
        wscale: e.peer_wscale.map(|_| e.rcv_scale),
        sack_ok: e.sack_ok,
        ts: e.ts.map(|peer| (tcp_ts(now), peer)),
        ..TcpOpts::default()
    };
    let mut ob = [0u8; 40];
    let olen = crate::wire::tcp::write_opts(&o, &mut ob);
    let mut m = Mbuf::zeroed(20 + olen);
    let h = TcpHdr {
        sport: e.ends.local.port,
        dport: e.ends.foreign.port,
        seq: e.iss,
        ack: e.irs.wrapping_add(1),
        off: 20 + olen,
        flags: TH_SYN | TH_ACK,
        win,
        urp: 0,
    };
    h.write(m.data_mut(), &ob[..olen], e.ends.local.addr, e.ends.foreign.addr);
    t.stats.sndtotal += 1;
    t.stats.sndctrl += 1;
    let opts = crate::netinet::ip_output::IpOpts {
        df: t.path_mtu_discovery,
        proto: crate::netinet::ip::IPPROTO_TCP,
        ..Default::default()
    };
    let _ = pr_output(k, v, m, e.ends.local.addr, e.ends.foreign.addr, opts);
}

/// A reset in the window of a half-open connection ends it
/// (`syncache_chkrst`).
pub fn syncache_chkrst(v: &mut Vnet, ends: Ends, th: &TcpHdr) {
    let t = v.builtin(TCP);
    let window = t.recvspace.max(1) as u32;
    if let Some(e) = t.syncache.entries.get(&ends)
        && seq_gt(th.seq, e.irs)
        && seq_leq(th.seq, e.irs.wrapping_add(1).wrapping_add(window))
    {
        t.syncache.entries.remove(&ends);
        t.stats.sc_reset += 1;
    }
}

/// The ACK that may complete a handshake (`syncache_expand`): the cache
/// entry it is for, or the one its cookie stands for; `None` if neither.
pub fn syncache_expand(v: &mut Vnet, ends: Ends, th: &TcpHdr, now: Time) -> Option<ScEntry> {
    let t = v.builtin(TCP);
    let irs = th.seq.wrapping_sub(1);
    let window = t.recvspace.max(1) as u32;
    match t.syncache.entries.remove(&ends) {
        // The ACK must be for our SYN; the segment may be any in the
        // window (data can overtake the bare ACK).
        Some(e)
            if e.iss.wrapping_add(1) == th.ack
                && seq_gt(th.seq, e.irs)
                && seq_leq(th.seq, e.irs.wrapping_add(1).wrapping_add(window)) =>
        {
            t.stats.sc_completed += 1;
            Some(e)
        }
        Some(e) => {
            t.syncache.entries.insert(ends, e);
            None
        }
        None if t.syncookies && th.flags & TH_SYN == 0 => {
            let iss = th.ack.wrapping_sub(1);
            cookie_check(t.secret, &ends, irs, iss, now).map(|d: CookieData| {
                t.stats.sc_recvcookie += 1;
                ScEntry {
                    ends,
                    iss,
                    irs,
                    peer_mss: Some(d.mss),
                    peer_wscale: d.wscale,
                    sack_ok: d.sack_ok,
                    ts: None,
                    rcv_scale: wscale_for(t.recvbuf_max.max(1) as usize),
                    rxmits: 0,
                    next: now,
                }
            })
        }
        None => None,
    }
}

/// A SYN for a listening socket (`syncache_add`): a duplicate gets its
/// SYN-ACK again; a new one a cache entry, or a cookie when the cache is
/// full.
pub fn syncache_add(k: &mut Kernel, v: &mut Vnet, ends: Ends, th: &TcpHdr, to: &TcpOpts, now: Time) {
    let t = v.builtin(TCP);
    if let Some(e) = t.syncache.entries.get(&ends).copied() {
        t.stats.sc_dupsyn += 1;
        return syncache_respond(k, v, &e);
    }
    let sack_ok = to.sack_ok && t.sack_enable;
    let rfc1323 = t.rfc1323;
    let rcv_scale = if rfc1323 && to.wscale.is_some() {
        wscale_for(t.recvbuf_max.max(1) as usize)
    } else {
        0
    };
    let mut e = ScEntry {
        ends,
        iss: 0,
        irs: th.seq,
        peer_mss: to.mss,
        peer_wscale: if rfc1323 { to.wscale } else { None },
        sack_ok,
        ts: if rfc1323 { to.ts.map(|(v, _)| v) } else { None },
        rcv_scale,
        rxmits: 0,
        next: now.saturating_add(Duration::from_secs(1)),
    };
    if t.syncache.len() >= t.syncache_cachelimit.max(1) as usize {
        if !t.syncookies {
            t.stats.sc_cacheoverflow += 1;
            return;
        }
        // No room: answer with a cookie and keep nothing.
        let d = CookieData {
            mss: to.mss.unwrap_or(536),
            wscale: e.peer_wscale,
            sack_ok,
        };
        e.iss = cookie_make(t.secret, &ends, th.seq, &d, now);
        e.ts = None;
        t.stats.sc_sendcookie += 1;
        return syncache_respond(k, v, &e);
    }
    e.iss = tcp_iss(t.secret, &ends, now);
    t.syncache.entries.insert(ends, e);
    t.stats.sc_added += 1;
    syncache_respond(k, v, &e);
    syncache_arm(k, v);
}

/// Make the connection a completed handshake describes, and queue it on
/// its listener (`syncache_socket`).
pub fn syncache_socket(v: &mut Vnet, lid: TcbId, e: &ScEntry, th: &TcpHdr, to: &TcpOpts, now: Time) -> TcbId {
    let route_mss = tcp_mss_for(v, now, e.ends.foreign.addr);
    let t = v.builtin(TCP);
    let id = t.alloc();
    let (init_cwnd_segs, sendbuf_max, recvbuf_max) = (t.initcwnd_segments.max(1) as u32, t.sendbuf_max, t.recvbuf_max);
    let (nodelay, keepalive, sndbuf, rcvbuf, cc, ttl, vflag) = match t.get(lid) {
        Some(l) => (l.nodelay, l.keepalive, l.snd_hiwat, l.rcv_hiwat, l.cc, l.ttl, l.vflag),
        None => return id,
    };
    let ends = e.ends;
    if let Some(tp) = t.get_mut(id) {
        (tp.local, tp.foreign) = (ends.local, ends.foreign);
        tp.vflag = vflag;
        tp.state = TcpState::Established;
        tp.iss = e.iss;
        tp.irs = e.irs;
        tp.snd_una = e.iss.wrapping_add(1);
        tp.snd_nxt = tp.snd_una;
        tp.snd_max = tp.snd_una;
        tp.rcv_nxt = e.irs.wrapping_add(1);
        tp.rcv_adv = tp.rcv_nxt;
        tp.t_maxseg = e.peer_mss.map_or(536, |m| m as u32).min(route_mss).max(64);
        (tp.snd_scale, tp.rcv_scale) = match e.peer_wscale {
            Some(w) => (w, e.rcv_scale),
            None => (0, 0),
        };
        tp.sack_ok = e.sack_ok;
        tp.ts_ok = e.ts.is_some() && to.ts.is_some();
        tp.ts_recent = e.ts.unwrap_or(0);
        tp.ts_recent_age = now;
        tp.snd_wnd = (th.win as u32) << tp.snd_scale;
        tp.max_sndwnd = tp.snd_wnd;
        tp.snd_wl1 = th.seq.wrapping_sub(1);
        tp.snd_wl2 = th.ack;
        tp.cwnd = init_cwnd_segs * tp.maxseg();
        tp.nodelay = nodelay;
        tp.keepalive = keepalive;
        tp.snd_hiwat = sndbuf.min(sendbuf_max.max(1) as usize);
        tp.rcv_hiwat = rcvbuf.min(recvbuf_max.max(1) as usize);
        tp.cc = cc;
        tp.ttl = ttl;
        tp.head = Some(lid);
        tp.last_activity = now;
        tp.recover = tp.snd_una;
        tp.sack_rexmit = tp.snd_una;
    }
    t.conns.insert(ends, id);
    t.stats.accepts += 1;
    t.stats.connects += 1;
    if let Some(l) = t.get_mut(lid) {
        if let Some(q) = l.listen.as_mut() {
            q.queue.push_back(id);
        }
        l.wake_reader();
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netinet::in_pcb::Endpoint;

    #[test]
    fn cookies_carry_options_and_expire() {
        let s = (1, 2);
        let ends = &Ends {
            local: Endpoint::v4(0x0a000001, 80),
            foreign: Endpoint::v4(0x0a000002, 40000),
        };
        let d = CookieData {
            mss: 1460,
            wscale: Some(7),
            sack_ok: true,
        };
        let t0 = Time(100_000_000_000);
        let c = cookie_make(s, ends, 555, &d, t0);
        assert_eq!(cookie_check(s, ends, 555, c, t0), Some(d));
        assert_eq!(cookie_check(s, ends, 555, c, Time(t0.0 + 30_000_000_000)), Some(d));
        assert_eq!(
            cookie_check(s, ends, 555, c, Time(t0.0 + 60_000_000_000)),
            None,
            "too old"
        );
        assert_eq!(cookie_check(s, ends, 556, c, t0), None, "another SYN");
        let other = Ends {
            local: Endpoint::v4(0x0a000001, 81),
            ..*ends
        };
        assert_eq!(cookie_check(s, &other, 555, c, t0), None);
        assert_eq!(cookie_check((9, 9), ends, 555, c, t0), None);
        let small = CookieData {
            mss: 1000,
            wscale: None,
            sack_ok: false,
        };
        let c = cookie_make(s, ends, 1, &small, t0);
        assert_eq!(
            cookie_check(s, ends, 1, c, t0).map(|d| (d.mss, d.wscale)),
            Some((536, None))
        );
    }
}
