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
use crate::vnet::Vnet;

/// SYN-ACK retransmissions before an entry goes (`syncache.rexmtlimit`).
pub const SYNCACHE_REXMTLIMIT: u32 = 3;

/// A half-open connection.
#[derive(Clone, Copy, Debug)]
pub struct ScEntry {
    pub laddr: u32,
    pub lport: u16,
    pub faddr: u32,
    pub fport: u16,
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
    pub entries: FxHashMap<(u32, u16, u32, u16), ScEntry>,
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
pub fn cookie_make(secret: (u64, u64), ends: (u32, u16, u32, u16), irs: u32, d: &CookieData, now: Time) -> u32 {
    let bits = encode(d);
    let h = crate::netinet::tcp_subr::tcp_hash(
        secret,
        ends.0,
        ends.1,
        ends.2,
        ends.3,
        ((irs as u64) << 32) | ((period(now) & 0xffff) << 8) | bits as u64,
    );
    ((h as u32) & 0xffff_ff00) | bits
}

/// If `iss` (the ACK less one) is a cookie we made lately, its data.
pub fn cookie_check(
    secret: (u64, u64),
    ends: (u32, u16, u32, u16),
    irs: u32,
    iss: u32,
    now: Time,
) -> Option<CookieData> {
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
    resend.sort_by_key(|e| (e.faddr, e.fport, e.laddr, e.lport));
    for e in resend {
        crate::netinet::tcp_input::syncache_respond(k, v, &e);
    }
    syncache_arm(k, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_carry_options_and_expire() {
        let s = (1, 2);
        let ends = (0x0a000001, 80, 0x0a000002, 40000);
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
        assert_eq!(cookie_check(s, (ends.0, 81, ends.2, ends.3), 555, c, t0), None);
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
