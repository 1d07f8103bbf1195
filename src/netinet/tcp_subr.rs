//! TCP odds and ends (after `tcp_subr.c`): initial sequence numbers
//! (RFC 6528), the engine timer that stands for a connection's timers,
//! bare segments (RST, ACK), MSS from the route, and closing.

use std::hash::Hasher;
use std::net::IpAddr;
use std::time::Duration;

use siphasher::sip::SipHasher24;

use crate::kern::Kernel;
use crate::kern::callout::Action;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::IF;
use crate::netinet::in_pcb::Ends;
use crate::netinet::ip::{IP_HDR_LEN, IPPROTO_TCP};
use crate::netinet::ip_output::{IpOpts, ip_route};
use crate::netinet::protosw::pr_output;
use crate::netinet::tcp_hostcache::tcp_hc_getmtu;
use crate::netinet::tcp_var::{SoError, TCP, TcbId, TcpState};
use crate::vnet::Vnet;
use crate::wire::tcp::{TCP_HDR_LEN, TH_ACK, TH_RST, TcpHdr};

/// A keyed hash of a connection's addresses and ports.
pub fn tcp_hash(secret: (u64, u64), e: &Ends, extra: u64) -> u64 {
    let mut h = SipHasher24::new_with_keys(secret.0, secret.1);
    for end in [e.local, e.foreign] {
        match end.addr {
            IpAddr::V4(a) => h.write_u32(a.to_bits()),
            IpAddr::V6(a) => h.write_u128(a.to_bits()),
        }
        h.write_u16(end.port);
    }
    h.write_u64(extra);
    h.finish()
}

/// RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key),
/// M a 4-microsecond clock.
pub fn tcp_iss(secret: (u64, u64), e: &Ends, now: Time) -> u32 {
    let m = (now.0 / 4000) as u32;
    m.wrapping_add(tcp_hash(secret, e, 0) as u32)
}

/// TCP timestamps tick in milliseconds (RFC 7323 §5.4).
pub fn tcp_ts(now: Time) -> u32 {
    (now.0 / 1_000_000) as u32
}

/// The MSS to offer and to use on a route to `faddr`: its interface MTU,
/// or the path MTU learned if less, less the headers (or `mssdflt`
/// without a route).
pub fn tcp_mss_for(v: &mut Vnet, now: Time, faddr: IpAddr) -> u32 {
    let dflt = v.builtin(TCP).mssdflt.max(64) as u32;
    let (mtu, iphl) = match faddr {
        IpAddr::V4(a) => (ip_route(v, a.to_bits()).ok().flatten().map(|nh| nh.mtu), IP_HDR_LEN),
        IpAddr::V6(a) => (
            crate::netinet6::ip6_output::ip6_route(v, &a, None)
                .ok()
                .flatten()
                .map(|nh| nh.mtu),
            crate::netinet6::ip6::IP6_HDR_LEN,
        ),
    };
    // A path MTU learned is the most (`tcp_hc_getmtu`).
    let mtu = match (mtu, tcp_hc_getmtu(v, now, faddr)) {
        (Some(m), Some(p)) => Some(m.min(p as usize)),
        (m, _) => m,
    };
    mtu.map_or(dflt, |m| (m.saturating_sub(iphl + TCP_HDR_LEN) as u32).max(64))
}

/// A segment without data: an ACK or a RST (`tcp_respond`).
pub fn tcp_respond(k: &mut Kernel, v: &mut Vnet, e: Ends, seq: u32, ack: u32, flags: u8, win: u16) {
    let mut m = Mbuf::zeroed(TCP_HDR_LEN);
    let h = TcpHdr {
        sport: e.local.port,
        dport: e.foreign.port,
        seq,
        ack,
        off: TCP_HDR_LEN,
        flags,
        win,
        urp: 0,
    };
    h.write(m.data_mut(), &[], e.local.addr, e.foreign.addr);
    let t = v.builtin(TCP);
    t.stats.sndtotal += 1;
    if flags & TH_RST != 0 {
        t.stats.sndctrl += 1;
    } else if flags & TH_ACK != 0 {
        t.stats.sndacks += 1;
    }
    let opts = IpOpts {
        proto: IPPROTO_TCP,
        ..IpOpts::default()
    };
    let _ = pr_output(k, v, m, e.local.addr, e.foreign.addr, opts);
}

/// Make the engine timer agree with the connection's deadlines: one timer
/// at the earliest, moved only when a deadline comes sooner (a late one
/// just fires early and re-arms).
pub fn tcp_timer_update(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let vid = v.id();
    let Some(tp) = v.builtin(TCP).get_mut(id) else { return };
    let want = tp.timers.earliest();
    match (tp.timer, want) {
        (Some((t, _)), None) => {
            k.untimeout(t);
            tp.timer = None;
        }
        (Some((_, at)), Some(w)) if at <= w => {}
        (old, Some(w)) => {
            if let Some((t, _)) = old {
                k.untimeout(t);
            }
            let t = k.timeout_at(
                w,
                Action::Vnet {
                    vnet: vid,
                    f: crate::netinet::tcp_timer::tcp_timer_fire,
                    arg: ((id.idx as u64) << 32) | id.generation as u64,
                },
            );
            if let Some(tp) = v.builtin(TCP).get_mut(id) {
                tp.timer = Some((t, w));
            }
        }
        (None, None) => {}
    }
}

/// `tcp_close`: the connection is over. A user still holding it sees it
/// closed; an orphan is freed.
pub fn tcp_close(k: &mut Kernel, v: &mut Vnet, id: TcbId) {
    let t = v.builtin(TCP);
    t.stats.closed += 1;
    let Some(tp) = t.get_mut(id) else { return };
    let key = tp.ends();
    tp.state = TcpState::Closed;
    tp.timers = Default::default();
    if let Some((timer, _)) = tp.timer.take() {
        k.untimeout(timer);
    }
    tp.wake_all();
    let (orphan, listen) = (tp.orphan, tp.listen.is_some());
    if t.conns.get(&key) == Some(&id) {
        t.conns.remove(&key);
    }
    if orphan && !listen {
        t.free(id);
    }
}

/// `tcp_drop`: abort with `err`, telling the peer with a RST if the
/// connection was synchronized: RST|ACK at `snd_nxt`, acknowledging what
/// arrived (`tcp_outflags[TCPS_CLOSED]`).
pub fn tcp_drop(k: &mut Kernel, v: &mut Vnet, id: TcbId, err: Option<SoError>) {
    let t = v.builtin(TCP);
    let Some(tp) = t.get_mut(id) else { return };
    let rst = tp.state.synchronized() || tp.state == TcpState::SynReceived;
    let ends = tp.ends();
    let (seq, ack) = (tp.snd_nxt, tp.rcv_nxt);
    tp.error = err.or(tp.error);
    // Dropped before the peer's SYN came: embryonic (`tcps_conndrops`).
    if tp.state >= TcpState::SynReceived {
        t.stats.drops += 1;
    } else {
        t.stats.conndrops += 1;
    }
    if rst {
        tcp_respond(k, v, ends, seq, ack, TH_RST | TH_ACK, 0);
    }
    tcp_close(k, v, id);
}

/// The smoothed RTT and variance after a sample (RFC 6298 §2), and the RTO
/// with FreeBSD's slop for delayed ACKs (`TCPT_RANGESET`).
pub fn tcp_xmit_timer(v: &mut Vnet, id: TcbId, rtt: Duration) {
    let t = v.builtin(TCP);
    t.stats.rttupdated += 1;
    let min = Duration::from_millis(t.rexmit_min.max(1) as u64);
    let slop = Duration::from_millis(t.rexmit_slop.max(0) as u64);
    let Some(tp) = t.get_mut(id) else { return };
    match tp.srtt {
        None => {
            tp.srtt = Some(rtt);
            tp.rttvar = rtt / 2;
        }
        Some(srtt) => {
            let delta = srtt.abs_diff(rtt);
            tp.rttvar = (tp.rttvar * 3 + delta) / 4;
            tp.srtt = Some((srtt * 7 + rtt) / 8);
        }
    }
    let srtt = tp.srtt.unwrap_or(rtt);
    tp.rto = (srtt + (tp.rttvar * 4).max(Duration::from_millis(1)) + slop).clamp(min, Duration::from_secs(64));
    tp.rxtshift = 0;
}

/// The IF slot, for the MTU of a connection's route.
pub fn tcp_ifmtu(v: &mut Vnet, ifindex: u32) -> Option<u32> {
    v.builtin(IF).get(ifindex).map(|i| i.mtu)
}
