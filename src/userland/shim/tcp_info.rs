//! `getsockopt(TCP_INFO)` for a host program: the vnet connection's
//! control block in Linux's `struct tcp_info` (linux/tcp.h), the fields
//! up to `tcpi_total_retrans` (104 bytes; a program given fewer bytes
//! than its struct reads what the kernel filled, as with older kernels).

use crate::netinet::tcp_var::{Tcb, TcpState};

const TCPI_OPT_TIMESTAMPS: u8 = 1;
const TCPI_OPT_SACK: u8 = 2;
const TCPI_OPT_WSCALE: u8 = 4;
/// Its length.
pub const TCP_INFO_LEN: usize = 104;

/// Linux's `TCP_*` state numbers (include/net/tcp_states.h).
fn linux_state(s: TcpState) -> u8 {
    match s {
        TcpState::Established => 1,
        TcpState::SynSent => 2,
        TcpState::SynReceived => 3,
        TcpState::FinWait1 => 4,
        TcpState::FinWait2 => 5,
        TcpState::TimeWait => 6,
        TcpState::Closed => 7,
        TcpState::CloseWait => 8,
        TcpState::LastAck => 9,
        TcpState::Listen => 10,
        TcpState::Closing => 11,
    }
}

/// The struct's bytes: times in microseconds, windows in segments.
pub fn tcp_info(t: &Tcb) -> Vec<u8> {
    let mss = t.maxseg().max(1);
    let us = |d: std::time::Duration| d.as_micros().min(u128::from(u32::MAX)) as u32;
    let mut options = 0;
    if t.ts_ok {
        options |= TCPI_OPT_TIMESTAMPS;
    }
    if t.sack_ok {
        options |= TCPI_OPT_SACK;
    }
    if t.snd_scale != 0 || t.rcv_scale != 0 {
        options |= TCPI_OPT_WSCALE;
    }
    let mut b = vec![0u8; TCP_INFO_LEN];
    b[0] = linux_state(t.state);
    b[2] = t.rxtshift.min(255) as u8;
    b[4] = t.rxtshift.min(255) as u8;
    b[5] = options;
    b[6] = (t.snd_scale & 0xf) | (t.rcv_scale << 4);
    let unacked = t.snd_max.wrapping_sub(t.snd_una).div_ceil(mss);
    let rcv_space = t.rcv_hiwat.min(u32::MAX as usize) as u32;
    let words: [(usize, u32); 13] = [
        (8, us(t.rto)),
        (16, mss),
        (20, mss),
        (24, unacked),
        (60, mss + 40),
        (64, rcv_space),
        (68, t.srtt.map_or(0, us)),
        (72, us(t.rttvar)),
        (76, t.ssthresh / mss),
        (80, t.cwnd / mss),
        (84, mss),
        (96, rcv_space),
        (100, t.retransmits.min(u64::from(u32::MAX)) as u32),
    ];
    for (at, v) in words {
        b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }
    b
}
