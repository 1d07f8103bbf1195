//! TCP's per-connection state (the TCB, RFC 9293 §3.3.1) and per-vnet
//! state: the connection table, knobs (`net.inet.tcp.*`) and statistics.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::task::Waker;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::kern::callout::TimerId;
use crate::kern::clock::Time;
use crate::kern::sockbuf::SockBuf;
use crate::kern::sysctl::{Oid, Value};
use crate::netinet::cc::Cc;
use crate::netinet::in_jail::prison_equal_ip4;
use crate::netinet::in_pcb::{Endpoint, Ends, Owner, PcbTable, Vflag, in_pcb_overlap};
use crate::netinet::tcp_hostcache::HostCache;
use crate::netinet::tcp_syncache::Syncache;
use crate::vnet::module::{SI_ORDER_MIDDLE, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, VnetKey};

/// TCP states (RFC 9293 §3.3.2), in FreeBSD's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    CloseWait,
    FinWait1,
    Closing,
    LastAck,
    FinWait2,
    TimeWait,
}

impl TcpState {
    /// Every state, by number (`TCP_NSTATES` of them).
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::CloseWait,
        TcpState::FinWait1,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::FinWait2,
        TcpState::TimeWait,
    ];

    /// `tcpstates[]`, as netstat prints them.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RCVD",
            TcpState::Established => "ESTABLISHED",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }

    /// Has the handshake completed (RFC 9293 "synchronized" states)?
    pub fn synchronized(self) -> bool {
        self >= TcpState::Established
    }

    /// May we still receive data?
    pub fn can_recv(self) -> bool {
        matches!(self, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2)
    }

    /// Is our FIN sent (or due) and not yet acknowledged? The states whose
    /// `tcp_outflags` carry TH_FIN: once it is acknowledged (FIN_WAIT_2,
    /// TIME_WAIT) it is never sent again.
    pub fn fin_unacked(self) -> bool {
        matches!(self, TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck)
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names a TCB.
pub type TcbId = crate::netinet::in_pcb::PcbId;

/// A socket error (`so_error`), with FreeBSD's errno text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SoError {
    #[error("Connection refused")]
    ConnRefused,
    #[error("Connection reset by peer")]
    ConnReset,
    #[error("Operation timed out")]
    TimedOut,
    #[error("No route to host")]
    HostUnreach,
    #[error("Network is unreachable")]
    NetUnreach,
    #[error("Host is down")]
    HostDown,
    #[error("Connection aborted")]
    ConnAborted,
}

/// Deadlines of the connection's timers (`tcp_timer.c`): one engine timer
/// stands for the earliest.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timers {
    pub rexmt: Option<Time>,
    pub persist: Option<Time>,
    pub keep: Option<Time>,
    pub delack: Option<Time>,
    pub twomsl: Option<Time>,
}

impl Timers {
    pub fn earliest(&self) -> Option<Time> {
        [self.rexmt, self.persist, self.keep, self.delack, self.twomsl]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A listening socket's queue of connections ready to accept.
#[derive(Debug, Default)]
pub struct Listen {
    pub queue: VecDeque<TcbId>,
    pub backlog: usize,
}

/// A TCP connection (`struct tcpcb` with its socket buffers).
#[derive(Debug)]
pub struct Tcb {
    pub id: TcbId,
    pub state: TcpState,
    /// Where it is bound, and the peer (unspecified until it connects).
    pub local: Endpoint,
    pub foreign: Endpoint,
    // Send sequence space.
    pub iss: u32,
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub snd_max: u32,
    /// Send window (scaled), and the updates it came from.
    pub snd_wnd: u32,
    pub snd_wl1: u32,
    pub snd_wl2: u32,
    pub max_sndwnd: u32,
    /// Unacknowledged and unsent bytes, from `snd_una` on.
    pub snd_buf: VecDeque<u8>,
    pub snd_hiwat: usize,
    /// The user is done writing: a FIN follows the data.
    pub snd_fin: bool,
    // Receive sequence space.
    pub irs: u32,
    pub rcv_nxt: u32,
    /// The right edge we advertised.
    pub rcv_adv: u32,
    /// In-order bytes not yet read.
    pub rcv_buf: SockBuf,
    pub rcv_hiwat: usize,
    /// Out-of-order data (tcp_reass), by sequence relative to `irs`.
    pub reass: BTreeMap<u64, Vec<u8>>,
    pub reass_bytes: usize,
    /// The most recent out-of-order block (first SACK block to send).
    pub last_ooo: Option<(u32, u32)>,
    /// Bytes received in order since the connection began (for `reass`).
    pub rcv_off: u64,
    /// The peer's FIN came (in order).
    pub fin_rcvd: bool,
    /// The sequence number of a FIN that came before data it follows.
    pub rcv_fin: Option<u32>,
    // Options.
    pub t_maxseg: u32,
    pub snd_scale: u8,
    pub rcv_scale: u8,
    pub ts_ok: bool,
    pub ts_recent: u32,
    pub ts_recent_age: Time,
    pub sack_ok: bool,
    /// What the peer SACKed above `snd_una`: sorted, disjoint.
    pub scoreboard: Vec<(u32, u32)>,
    /// In SACK recovery: retransmitted up to here.
    pub sack_rexmit: u32,
    /// Retransmitted bytes still in flight during recovery.
    pub sack_bytes_rexmit: u32,
    /// Send the first hole now, whatever the pipe (entering recovery).
    pub rexmit_now: bool,
    // Round-trip time (RFC 6298).
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
    pub rto: Duration,
    pub rxtshift: u32,
    /// The segment being timed and when it left (Karn: never a resent one).
    pub rt_seq: Option<(u32, Time)>,
    // Congestion control (RFC 5681, 6582, 6675, 9438).
    pub cwnd: u32,
    pub ssthresh: u32,
    pub dupacks: u32,
    pub recover: u32,
    pub in_recovery: bool,
    pub cc: Cc,
    pub timers: Timers,
    /// The engine timer standing for `timers`, and when it fires.
    pub timer: Option<(TimerId, Time)>,
    pub nodelay: bool,
    pub keepalive: bool,
    pub keep_probes: u32,
    pub ack_now: bool,
    /// Full segments received since we last acknowledged.
    pub delack_segs: u32,
    pub ttl: u8,
    pub last_activity: Time,
    pub error: Option<SoError>,
    pub rwaker: Option<Waker>,
    pub wwaker: Option<Waker>,
    pub listen: Option<Listen>,
    /// The listening socket this connection will be accepted from.
    pub head: Option<TcbId>,
    /// The user has closed it (it lives on to finish the close).
    pub orphan: bool,
    /// Segments retransmitted on this connection.
    pub retransmits: u64,
    /// Who holds it (none: in an accept queue, or orphaned).
    pub owner: Option<Owner>,
    /// `SO_REUSEADDR`: bind even where connections (TIME_WAIT) hold the port.
    pub reuseaddr: bool,
    /// Its family and whether it takes IPv4 too.
    pub vflag: Vflag,
    /// Buffers that size themselves (`SB_AUTOSIZE`); setting one by hand
    /// (SO_SNDBUF, SO_RCVBUF) fixes it.
    pub snd_autosize: bool,
    pub rcv_autosize: bool,
    /// Receive autotuning: when the measurement began, bytes since.
    pub rfbuf_ts: Option<Time>,
    pub rfbuf_cnt: usize,
}

impl Tcb {
    /// Its two ends, the key of the connection table.
    pub fn ends(&self) -> Ends {
        Ends {
            local: self.local,
            foreign: self.foreign,
        }
    }

    /// The data in a full segment: `t_maxseg` less the timestamp option
    /// every segment carries (`tcp_maxseg()`); windows count in these.
    pub fn maxseg(&self) -> u32 {
        let ts = if self.ts_ok { 12 } else { 0 };
        self.t_maxseg.saturating_sub(ts).max(1)
    }

    /// A closed TCB with the vnet's defaults.
    pub fn new(id: TcbId, t: &Tcp) -> Tcb {
        Tcb {
            id,
            state: TcpState::Closed,
            local: Endpoint::ANY4,
            foreign: Endpoint::ANY4,
            iss: 0,
            snd_una: 0,
            snd_nxt: 0,
            snd_max: 0,
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            max_sndwnd: 0,
            snd_buf: VecDeque::new(),
            snd_hiwat: t.sendspace.max(1) as usize,
            snd_fin: false,
            irs: 0,
            rcv_nxt: 0,
            rcv_adv: 0,
            rcv_buf: SockBuf::default(),
            rcv_hiwat: t.recvspace.max(1) as usize,
            reass: BTreeMap::new(),
            reass_bytes: 0,
            last_ooo: None,
            rcv_off: 0,
            fin_rcvd: false,
            rcv_fin: None,
            t_maxseg: t.mssdflt.max(64) as u32,
            snd_scale: 0,
            rcv_scale: 0,
            ts_ok: false,
            ts_recent: 0,
            ts_recent_age: Time::ZERO,
            sack_ok: false,
            scoreboard: Vec::new(),
            sack_rexmit: 0,
            sack_bytes_rexmit: 0,
            rexmit_now: false,
            srtt: None,
            rttvar: Duration::ZERO,
            rto: Duration::from_millis(t.rexmit_initial.max(1) as u64),
            rxtshift: 0,
            rt_seq: None,
            cwnd: 0,
            ssthresh: u32::MAX / 2,
            dupacks: 0,
            recover: 0,
            in_recovery: false,
            cc: Cc::new(&t.cc_algorithm),
            timers: Timers::default(),
            timer: None,
            nodelay: false,
            keepalive: false,
            keep_probes: 0,
            ack_now: false,
            delack_segs: 0,
            ttl: 0,
            last_activity: Time::ZERO,
            error: None,
            rwaker: None,
            wwaker: None,
            listen: None,
            head: None,
            orphan: false,
            retransmits: 0,
            owner: None,
            reuseaddr: false,
            vflag: Vflag::default(),
            snd_autosize: true,
            rcv_autosize: true,
            rfbuf_ts: None,
            rfbuf_cnt: 0,
        }
    }

    /// Bytes sent and not yet acknowledged.
    pub fn flight(&self) -> u32 {
        self.snd_max.wrapping_sub(self.snd_una)
    }

    /// Room for more data in the send buffer.
    pub fn snd_space(&self) -> usize {
        self.snd_hiwat.saturating_sub(self.snd_buf.len())
    }

    /// The receive window we can offer now.
    pub fn rcv_space(&self) -> u32 {
        self.rcv_hiwat
            .saturating_sub(self.rcv_buf.len() + self.reass_bytes)
            .min(u32::MAX as usize) as u32
    }

    pub fn wake_reader(&mut self) {
        if let Some(w) = self.rwaker.take() {
            w.wake();
        }
    }

    pub fn wake_writer(&mut self) {
        if let Some(w) = self.wwaker.take() {
            w.wake();
        }
    }

    pub fn wake_all(&mut self) {
        self.wake_reader();
        self.wake_writer();
    }
}

crate::stats! {
    /// TCP statistics (`struct tcpstat`), as netstat -s -p tcp names them.
    #[derive(Copy)]
    pub struct TcpStat {
        connattempt,
        accepts,
        connects,
        drops,
        conndrops,
        closed,
        segstimed,
        rttupdated,
        delack,
        timeoutdrop,
        rexmttimeo,
        persisttimeo,
        keeptimeo,
        keepprobe,
        keepdrops,
        sndtotal,
        sndpack,
        sndbyte,
        sndrexmitpack,
        sndrexmitbyte,
        sndacks,
        sndprobe,
        sndwinup,
        sndctrl,
        rcvtotal,
        rcvpack,
        rcvbyte,
        rcvbadsum,
        rcvbadoff,
        rcvshort,
        rcvduppack,
        rcvdupbyte,
        rcvpartduppack,
        rcvpartdupbyte,
        rcvoopack,
        rcvoobyte,
        rcvpackafterwin,
        rcvbyteafterwin,
        rcvafterclose,
        rcvwinprobe,
        rcvdupack,
        rcvacktoomuch,
        rcvackpack,
        rcvackbyte,
        rcvwinupd,
        pawsdrop,
        persistdrop,
        badsyn,
        listendrop,
        sc_added,
        sc_retransmitted,
        sc_dupsyn,
        sc_dropped,
        sc_completed,
        sc_cacheoverflow,
        sc_reset,
        sc_stale,
        sc_badack,
        sc_sendcookie,
        sc_recvcookie,
        sack_recovery_episode,
        sack_rexmits,
        sack_rexmit_bytes,
        sack_rcv_blocks,
        sack_send_blocks,
        rcvmemdrop,
        mturesent,
        badrst,
        challenge_acks,
        finwait2_drops,
    }
}

/// Per-vnet TCP state: the connections and the knobs.
#[derive(Debug)]
pub struct Tcp {
    pub tcbs: PcbTable<Tcb>,
    /// Connections by their two ends.
    pub conns: FxHashMap<Ends, TcbId>,
    /// Listening sockets by local port.
    pub listeners: FxHashMap<u16, Vec<TcbId>>,
    pub syncache: Syncache,
    pub stats: crate::kern::counter::Counters<TcpStat>,
    /// The secret of ISNs (RFC 6528) and SYN cookies.
    pub secret: (u64, u64),
    pub mssdflt: i32,
    pub sendspace: i32,
    pub recvspace: i32,
    pub sendbuf_max: i32,
    pub recvbuf_max: i32,
    pub sendbuf_auto: bool,
    pub recvbuf_auto: bool,
    pub rfc1323: bool,
    pub sack_enable: bool,
    /// Milliseconds.
    pub msl: i32,
    pub delacktime: i32,
    pub delayed_ack: bool,
    pub keepidle: i32,
    pub keepintvl: i32,
    pub keepcnt: i32,
    pub keepinit: i32,
    pub rexmit_min: i32,
    /// `net.inet.tcp.rexmit_slop`: added to every RTO, so a delayed ACK
    /// is not taken for a loss.
    pub rexmit_slop: i32,
    pub rexmit_initial: i32,
    pub finwait2_timeout: i32,
    pub syncookies: bool,
    pub path_mtu_discovery: bool,
    pub blackhole: bool,
    pub initcwnd_segments: i32,
    /// `net.inet.tcp.reass.maxqueuelen`: out-of-order segments held per
    /// connection.
    pub reass_maxqueuelen: i32,
    /// `net.inet.tcp.syncache.cachelimit`: half-open connections kept;
    /// past it, SYN cookies (or nothing, without them).
    pub syncache_cachelimit: i32,
    pub cc_algorithm: String,
    /// Path MTUs learned (`tcp_hostcache.c`).
    pub hostcache: HostCache,
}

impl Default for Tcp {
    fn default() -> Self {
        Tcp {
            tcbs: PcbTable::default(),
            conns: FxHashMap::default(),
            listeners: FxHashMap::default(),
            syncache: Syncache::default(),
            stats: Default::default(),
            secret: (0, 0),
            mssdflt: 536,
            sendspace: 32768,
            recvspace: 65536,
            sendbuf_max: 2097152,
            recvbuf_max: 2097152,
            sendbuf_auto: true,
            recvbuf_auto: true,
            rfc1323: true,
            sack_enable: true,
            msl: 30000,
            delacktime: 40,
            delayed_ack: true,
            keepidle: 7_200_000,
            keepintvl: 75_000,
            keepcnt: 8,
            keepinit: 75_000,
            rexmit_min: 30,
            rexmit_slop: 200,
            rexmit_initial: 1000,
            finwait2_timeout: 60_000,
            syncookies: true,
            path_mtu_discovery: true,
            blackhole: false,
            initcwnd_segments: 10,
            reass_maxqueuelen: 100,
            syncache_cachelimit: 15360,
            cc_algorithm: "cubic".into(),
            hostcache: HostCache::default(),
        }
    }
}

impl Tcp {
    /// Make a TCB and return its id (the TCB itself starts closed).
    pub fn alloc(&mut self) -> TcbId {
        let mut tcb = Tcb::new(TcbId { idx: 0, generation: 0 }, self);
        self.tcbs.alloc(|id| {
            tcb.id = id;
            tcb
        })
    }

    /// Forget a TCB (the caller has cancelled its timer).
    pub fn free(&mut self, id: TcbId) -> Option<Box<Tcb>> {
        let t = self.tcbs.free(id)?;
        self.conns.remove(&t.ends());
        if let Some(l) = self.listeners.get_mut(&t.local.port) {
            l.retain(|x| *x != id);
            if l.is_empty() {
                self.listeners.remove(&t.local.port);
            }
        }
        Some(t)
    }

    pub fn get(&self, id: TcbId) -> Option<&Tcb> {
        self.tcbs.get(id)
    }

    /// A connection and the statistics, borrowed together.
    pub fn tcb_stats(&mut self, id: TcbId) -> Option<(&mut Tcb, &mut TcpStat)> {
        Some((self.tcbs.get_mut(id)?, &mut self.stats))
    }

    pub fn get_mut(&mut self, id: TcbId) -> Option<&mut Tcb> {
        self.tcbs.get_mut(id)
    }

    /// Every live connection, in slot order.
    pub fn all(&self) -> impl Iterator<Item = &Tcb> {
        self.tcbs.iter()
    }

    /// Is `port` taken on `addr` (or on any address, for a wildcard) for
    /// a socket of a jail with addresses `ip4`? With `SO_REUSEADDR`
    /// (`reuse`) only a listener holds it.
    pub fn port_in_use(&self, (vf, addr): (Vflag, IpAddr), port: u16, reuse: bool, ip4: Option<&[u32]>) -> bool {
        self.all().any(|t| {
            t.local.port == port
                && in_pcb_overlap((t.vflag, t.local.addr), (vf, addr))
                && (!reuse || t.state == TcpState::Listen)
                && prison_equal_ip4(Owner::ip4(&t.owner), ip4)
        })
    }
}

/// The TCP module's slot.
pub const TCP: VnetKey<Tcp> = VnetKey::fixed(7);

pub(crate) fn module() -> Module<Tcp> {
    Module::new("tcp", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE), |_, v| Tcp {
        secret: (v.random(), v.random()),
        ..Tcp::default()
    })
    .destructor(|k, _, mut t| {
        for tcb in t.tcbs.drain() {
            if let Some((id, _)) = tcb.timer {
                k.untimeout(id);
            }
        }
        t.syncache.drain(k);
    })
    .sysctl_range(
        "net.inet.tcp.mssdflt",
        "Default TCP Maximum Segment Size",
        |s| &mut s.mssdflt,
        64,
        65535,
    )
    .sysctl_range(
        "net.inet.tcp.sendspace",
        "Initial send socket buffer size",
        |s| &mut s.sendspace,
        1,
        1 << 30,
    )
    .sysctl_range(
        "net.inet.tcp.recvspace",
        "Initial receive socket buffer size",
        |s| &mut s.recvspace,
        1,
        1 << 30,
    )
    .sysctl_range(
        "net.inet.tcp.sendbuf_max",
        "Max size of automatic send buffer",
        |s| &mut s.sendbuf_max,
        1,
        1 << 30,
    )
    .sysctl_range(
        "net.inet.tcp.recvbuf_max",
        "Max size of automatic receive buffer",
        |s| &mut s.recvbuf_max,
        1,
        1 << 30,
    )
    .sysctl(
        "net.inet.tcp.sendbuf_auto",
        "Enable automatic send buffer sizing",
        |s| &mut s.sendbuf_auto,
    )
    .sysctl(
        "net.inet.tcp.recvbuf_auto",
        "Enable automatic receive buffer sizing",
        |s| &mut s.recvbuf_auto,
    )
    .sysctl(
        "net.inet.tcp.rfc1323",
        "Enable rfc1323 (high performance TCP) extensions",
        |s| &mut s.rfc1323,
    )
    .sysctl("net.inet.tcp.sack.enable", "Enable/Disable TCP SACK support", |s| {
        &mut s.sack_enable
    })
    .sysctl_range(
        "net.inet.tcp.msl",
        "Maximum Segment Lifetime",
        |s| &mut s.msl,
        1,
        3_600_000,
    )
    .sysctl_range(
        "net.inet.tcp.delacktime",
        "Time before a delayed ACK is sent",
        |s| &mut s.delacktime,
        1,
        1000,
    )
    .sysctl(
        "net.inet.tcp.delayed_ack",
        "Delay ACK to try and piggyback it onto a data packet",
        |s| &mut s.delayed_ack,
    )
    .sysctl_range(
        "net.inet.tcp.keepidle",
        "time before keepalive probes begin",
        |s| &mut s.keepidle,
        1,
        i32::MAX as i64,
    )
    .sysctl_range(
        "net.inet.tcp.keepintvl",
        "time between keepalive probes",
        |s| &mut s.keepintvl,
        1,
        i32::MAX as i64,
    )
    .sysctl_range(
        "net.inet.tcp.keepcnt",
        "Number of keepalive probes to send",
        |s| &mut s.keepcnt,
        1,
        1000,
    )
    .sysctl_range(
        "net.inet.tcp.keepinit",
        "time to establish connection",
        |s| &mut s.keepinit,
        1,
        i32::MAX as i64,
    )
    .sysctl_range(
        "net.inet.tcp.rexmit_min",
        "Minimum Retransmission Timeout",
        |s| &mut s.rexmit_min,
        1,
        60_000,
    )
    .sysctl_range(
        "net.inet.tcp.rexmit_slop",
        "Retransmission Timer Slop",
        |s| &mut s.rexmit_slop,
        0,
        60_000,
    )
    .sysctl_range(
        "net.inet.tcp.rexmit_initial",
        "Initial Retransmission Timeout",
        |s| &mut s.rexmit_initial,
        1,
        60_000,
    )
    .sysctl_range(
        "net.inet.tcp.finwait2_timeout",
        "FIN-WAIT2 timeout",
        |s| &mut s.finwait2_timeout,
        1,
        i32::MAX as i64,
    )
    .sysctl(
        "net.inet.tcp.syncookies",
        "Use TCP SYN cookies if the syncache overflows",
        |s| &mut s.syncookies,
    )
    .sysctl("net.inet.tcp.path_mtu_discovery", "Enable Path MTU Discovery", |s| {
        &mut s.path_mtu_discovery
    })
    .sysctl(
        "net.inet.tcp.blackhole",
        "Do not send RST on segments to closed ports",
        |s| &mut s.blackhole,
    )
    .sysctl_range(
        "net.inet.tcp.initcwnd_segments",
        "Slow-start flight size (initial congestion window) in number of segments",
        |s| &mut s.initcwnd_segments,
        1,
        1000,
    )
    .sysctl_range(
        "net.inet.tcp.syncache.cachelimit",
        "Overall entry limit for syncache",
        |s| &mut s.syncache_cachelimit,
        1,
        1 << 24,
    )
    .sysctl_range(
        "net.inet.tcp.hostcache.expire",
        "Expire time of TCP hostcache entries",
        |s| &mut s.hostcache.expire,
        1,
        i32::MAX as i64,
    )
    .sysctl_range(
        "net.inet.tcp.hostcache.cachelimit",
        "Overall entry limit for hostcache",
        |s| &mut s.hostcache.cachelimit,
        1,
        1 << 24,
    )
    .oid(|k| {
        Oid::vnet_count(
            k,
            "net.inet.tcp.hostcache.count",
            "Current number of entries in hostcache",
            |s| s.hostcache.count(),
        )
    })
    .sysctl_range(
        "net.inet.tcp.reass.maxqueuelen",
        "Maximum number of TCP Segments per Reassembly Queue",
        |s| &mut s.reass_maxqueuelen,
        1,
        1 << 20,
    )
    .oid(|k| {
        Oid::vnet_string(
            k,
            "net.inet.tcp.cc.algorithm",
            "Default congestion control algorithm",
            |s: &mut Tcp| &mut s.cc_algorithm,
            Cc::known,
        )
    })
    .oid(|_| {
        Oid::constant(
            "net.inet.tcp.cc.available",
            "List available congestion control algorithms",
            Value::Str(Cc::AVAILABLE.join(", ")),
        )
    })
    .oid(|k| {
        Oid::vnet_stats(k, "net.inet.tcp.stats", "TCP statistics (struct tcpstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}
