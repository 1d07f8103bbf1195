//! Link emulation on an interface's output, after dummynet(4) pipes and
//! ng_pipe(4): bandwidth, delay, jitter, loss, duplication, bit errors and
//! a drop-tail queue. Set with `pipe IF config ...` (the keywords of
//! `ipfw pipe N config`); one pipe per interface and direction.
//!
//! Every random draw comes from the vnet's seeded generator, so a run under
//! the virtual clock repeats exactly.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::callout::Action;
use crate::kern::clock::ClockKind;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::kern::netisr::Frame;
use crate::net::ethernet::ETHER_HDR_LEN;
use crate::net::ifnet::{Exit, IF, IFG, NoBufs, ifg, netisr_queue};
use crate::vnet::Vnet;

/// How jitter is distributed around the delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dist {
    /// Uniform in [-jitter, +jitter].
    #[default]
    Uniform,
    /// Normal with standard deviation `jitter`.
    Normal,
}

/// The queue limit of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueLimit {
    Frames(u32),
    Bytes(u64),
}

/// A pipe's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct PipeConf {
    /// Bits per second; 0 is unlimited.
    pub bw: u64,
    pub delay: Duration,
    pub jitter: Duration,
    pub dist: Dist,
    /// Packet loss rate, 0..=1.
    pub plr: f64,
    /// Duplication rate, 0..=1.
    pub dup: f64,
    /// Bit-error rate: a frame with a flipped bit is discarded, as by its FCS.
    pub ber: f64,
    pub queue: QueueLimit,
}

impl Default for PipeConf {
    fn default() -> Self {
        PipeConf {
            bw: 0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            dist: Dist::Uniform,
            plr: 0.0,
            dup: 0.0,
            ber: 0.0,
            // dummynet's default: 50 slots.
            queue: QueueLimit::Frames(50),
        }
    }
}

/// `10Mbit/s`, `1.5Gbit/s`, `100Kbit/s`, `64000bit/s`, `2MByte/s`.
pub fn parse_bw(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid bandwidth '{s}'"))?;
    let unit = unit.strip_suffix("/s").unwrap_or(unit);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "bit" | "bits" => 1.0,
        "kbit" | "kbits" | "k" => 1e3,
        "mbit" | "mbits" | "m" => 1e6,
        "gbit" | "gbits" | "g" => 1e9,
        "byte" | "bytes" | "b" => 8.0,
        "kbyte" | "kbytes" | "kb" => 8e3,
        "mbyte" | "mbytes" | "mb" => 8e6,
        "gbyte" | "gbytes" | "gb" => 8e9,
        _ => {
            return Err(format!(
                "invalid bandwidth unit in '{s}' (use bit/s, Kbit/s, Mbit/s, Gbit/s)"
            ));
        }
    };
    let bw = n * scale;
    if !bw.is_finite() || !(0.0..=1e15).contains(&bw) {
        return Err(format!("invalid bandwidth '{s}'"));
    }
    Ok(bw as u64)
}

fn fmt_bw(bw: u64) -> String {
    match bw {
        0 => "unlimited".into(),
        b if b % 1_000_000_000 == 0 => format!("{}Gbit/s", b / 1_000_000_000),
        b if b % 1_000_000 == 0 => format!("{}Mbit/s", b / 1_000_000),
        b if b % 1_000 == 0 => format!("{}Kbit/s", b / 1_000),
        b => format!("{b}bit/s"),
    }
}

impl fmt::Display for PipeConf {
    /// The configuration in the words `pipe IF config` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bw {} delay {}ms", fmt_bw(self.bw), self.delay.as_secs_f64() * 1e3)?;
        if !self.jitter.is_zero() {
            let d = match self.dist {
                Dist::Uniform => "uniform",
                Dist::Normal => "normal",
            };
            write!(f, " jitter {}ms {d}", self.jitter.as_secs_f64() * 1e3)?;
        }
        for (name, v) in [("plr", self.plr), ("dup", self.dup), ("ber", self.ber)] {
            if v > 0.0 {
                write!(f, " {name} {v}")?;
            }
        }
        match self.queue {
            QueueLimit::Frames(n) => write!(f, " queue {n}"),
            QueueLimit::Bytes(n) => write!(f, " queue {n}KB", n = n / 1024),
        }
    }
}

/// Counters of a pipe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipeStats {
    pub sent: u64,
    pub bytes: u64,
    pub lost: u64,
    pub queue_drops: u64,
    pub ber_drops: u64,
    pub duplicated: u64,
}

/// A line's transmitter: frames leave one after another at its rate, so
/// all it needs to know is when it falls idle; and the frames on their
/// way to the peer, in order, with one timer for the first of them.
///
///
/// The receiver takes a train of frames that come back to back in
/// batches, at most once per `rx_int_delay` (interrupt moderation, as
/// em(4)'s `hw.em.rx_int_delay`): a frame onto an empty line arrives
/// exactly when its last bit does, one in a train up to that much later.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub busy_until: Time,
    fifo: VecDeque<(Time, Frame)>,
    rx_int_delay: Duration,
}

impl Line {
    /// The time `len` bytes take at `rate` bit/s (a frame's length fits
    /// the arithmetic: 2^64 ns is 584 years).
    pub fn tx_time(len: usize, rate: u64) -> Duration {
        let bits = (len as u64).saturating_mul(8_000_000_000);
        Duration::from_nanos(bits.div_ceil(rate.max(1)))
    }

    /// Is there room for `len` more bytes in a queue of `limit` bytes
    /// drained at `rate`?
    pub fn has_room(&self, now: Time, rate: u64, len: usize, limit: u64) -> bool {
        let waiting = self.busy_until.saturating_sub(now).as_nanos() as f64 * rate as f64 / 8e9;
        waiting + len as f64 <= limit as f64
    }

    /// Put a frame on the line that arrives at `at` (no earlier than the
    /// last). If it is the first, the time to take it, which needs a timer.
    pub fn push(&mut self, at: Time, n: Frame, rx_int_delay: Duration) -> Option<Time> {
        self.rx_int_delay = rx_int_delay;
        self.fifo.push_back((at, n));
        (self.fifo.len() == 1).then_some(at)
    }

    /// Frames on the line.
    pub fn len(&self) -> usize {
        self.fifo.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fifo.is_empty()
    }

    /// Move the frames that have arrived by `now` to `out`; when to take
    /// the next ones (the rest of the train).
    pub fn drain_into(&mut self, now: Time, out: &mut VecDeque<Frame>) -> Option<Time> {
        while self.fifo.front().is_some_and(|f| f.0 <= now) {
            out.extend(self.fifo.pop_front().map(|f| f.1));
        }
        let batch = now.saturating_add(self.rx_int_delay);
        self.fifo.front().map(|f| f.0.max(batch))
    }

    /// Send `len` bytes handed over at `now`: when the last bit leaves.
    pub fn transmit(&mut self, now: Time, len: usize, rate: u64) -> Time {
        self.busy_until = self.busy_until.max(now).saturating_add(Line::tx_time(len, rate));
        self.busy_until
    }
}

/// A pipe: its configuration and the state of its queue.
#[derive(Clone, Debug, Default)]
pub struct Pipe {
    pub conf: PipeConf,
    /// The link's transmitter at the pipe's bandwidth.
    line: Line,
    /// Frames queued or being sent: when each leaves the queue, its size.
    queued: VecDeque<(Time, u32)>,
    queued_bytes: u64,
    pub stats: PipeStats,
}

impl Pipe {
    pub fn new(conf: PipeConf) -> Pipe {
        Pipe {
            conf,
            ..Pipe::default()
        }
    }

    /// Frames and bytes in the queue at `now`.
    pub fn occupancy(&mut self, now: Time) -> (usize, u64) {
        while let Some(&(t, len)) = self.queued.front() {
            if t > now {
                break;
            }
            self.queued.pop_front();
            self.queued_bytes -= len as u64;
        }
        (self.queued.len(), self.queued_bytes)
    }

    /// Decide the fate of a frame of `len` bytes sent at `now`: the times
    /// at which copies arrive (none if it is dropped). `rnd` draws uniform
    /// numbers in [0, 1).
    pub fn schedule(&mut self, now: Time, len: usize, mut rnd: impl FnMut() -> f64) -> Vec<Time> {
        let c = &self.conf;
        if c.plr > 0.0 && rnd() < c.plr {
            self.stats.lost += 1;
            return vec![];
        }
        let (frames, bytes) = self.occupancy(now);
        let full = match self.conf.queue {
            QueueLimit::Frames(n) => frames >= n as usize,
            QueueLimit::Bytes(n) => bytes + len as u64 > n,
        };
        let c = &self.conf;
        if full && c.bw > 0 {
            self.stats.queue_drops += 1;
            return vec![];
        }
        if c.ber > 0.0 {
            let p_ok = (1.0 - c.ber).powf(len as f64 * 8.0);
            if rnd() >= p_ok {
                self.stats.ber_drops += 1;
                return vec![];
            }
        }
        let done = if c.bw > 0 {
            let done = self.line.transmit(now, len, c.bw);
            self.queued.push_back((done, len as u32));
            self.queued_bytes += len as u64;
            done
        } else {
            now
        };
        let copies = if c.dup > 0.0 && rnd() < c.dup { 2 } else { 1 };
        self.stats.duplicated += copies - 1;
        self.stats.sent += 1;
        self.stats.bytes += len as u64;
        (0..copies)
            .map(|_| {
                let j = jitter(&self.conf, &mut rnd);
                let at = done.saturating_add(self.conf.delay).0 as i128 + j;
                Time(at.max(done.0 as i128) as u64)
            })
            .collect()
    }
}

/// A jitter sample in nanoseconds.
fn jitter(c: &PipeConf, rnd: &mut impl FnMut() -> f64) -> i128 {
    if c.jitter.is_zero() {
        return 0;
    }
    let j = c.jitter.as_nanos() as f64;
    let x = match c.dist {
        Dist::Uniform => (rnd() * 2.0 - 1.0) * j,
        Dist::Normal => {
            // Box-Muller.
            let u1 = rnd().max(f64::MIN_POSITIVE);
            let u2 = rnd();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * j
        }
    };
    x as i128
}

/// A uniform number in [0, 1) from the vnet's generator.
pub fn uniform(v: &mut Vnet) -> f64 {
    (v.random() >> 11) as f64 / (1u64 << 53) as f64
}

/// Send a frame out of `index` to `exit`: under the virtual clock through
/// the interface's line at its rate (refused when the send queue is full),
/// then through its pipe if it has one — at once, later, twice, or never.
/// A pipe with a bandwidth takes the place of the line.
pub fn pipe_output(k: &mut Kernel, v: &mut Vnet, index: u32, m: Mbuf, exit: Exit) -> Result<(), NoBufs> {
    let now = k.now();
    let virtual_clock = k.clock_kind() == ClockKind::Virtual;
    let ifs = v.builtin(IF);
    let maxqlen = ifs.maxqlen as u64;
    let rx_int_delay = Duration::from_micros(ifs.rx_int_delay as u64);
    let Some(ifp) = ifs.get_mut(index) else { return Ok(()) };
    let rate = if virtual_clock && ifp.pipe.as_ref().is_none_or(|p| p.conf.bw == 0) {
        ifp.baudrate
    } else {
        0
    };
    // When the frame has left the interface.
    let sent = match ifg(k).line_mut(index) {
        Some(line) if rate > 0 => {
            let limit = maxqlen * (ifp.mtu as u64 + ETHER_HDR_LEN as u64);
            if !line.has_room(now, rate, m.len(), limit) {
                let c = &mut ifp.counters;
                c.oqdrops += 1;
                c.opackets = c.opackets.saturating_sub(1);
                c.obytes = c.obytes.saturating_sub(m.len() as u64);
                return Err(NoBufs);
            }
            line.transmit(now, m.len(), rate)
        }
        _ => now,
    };
    let Some(mut pipe) = ifp.pipe.take() else {
        match exit {
            // In order, on the line: one timer for the first frame.
            Exit::Peer(peer) if sent > now => {
                let Some(generation) = ifg(k).gen_of(peer) else {
                    return Ok(());
                };
                let n = Frame {
                    index: peer,
                    generation,
                    m,
                };
                if let Some(at) = ifg(k).line_push(index, sent, n, rx_int_delay) {
                    k.timeout_at(at, line_timer(index));
                }
            }
            _ => deliver(k, &exit, m, sent, now),
        }
        return Ok(());
    };
    let times = pipe.schedule(sent, m.len(), || uniform(v));
    if let Some(ifp) = v.builtin(IF).get_mut(index) {
        ifp.pipe = Some(pipe);
    }
    let n = times.len();
    let mut m = Some(m);
    for (i, at) in times.into_iter().enumerate() {
        let copy = if i + 1 == n { m.take() } else { m.clone() };
        let Some(copy) = copy else { break };
        deliver(k, &exit, copy, at, now);
    }
    Ok(())
}

/// The first frames on the line of `index` have arrived: into the netisr
/// queue with them, and a timer for the next.
pub fn line_drain(k: &mut Kernel, index: u32) {
    let now = k.now();
    let Kernel { globals, netisr, .. } = k;
    let next = globals
        .get_mut(IFG)
        .and_then(|g| g.line_drain(index, now, &mut netisr.queue));
    if let Some(next) = next {
        k.timeout_at(next, line_timer(index));
    }
}

/// The timer that drains the line of `index`.
fn line_timer(index: u32) -> Action {
    Action::Fn {
        f: |k, arg| line_drain(k, arg as u32),
        arg: index.into(),
    }
}

/// A frame reaches `exit` at `at`: now, or by a timer.
fn deliver(k: &mut Kernel, exit: &Exit, m: Mbuf, at: Time, now: Time) {
    match exit {
        &Exit::Peer(peer) if at <= now => netisr_queue(k, peer, m),
        &Exit::Peer(peer) => {
            let Some(generation) = ifg(k).gen_of(peer) else { return };
            k.timeout_at(
                at,
                Action::Netisr(Frame {
                    index: peer,
                    generation,
                    m,
                }),
            );
        }
        Exit::Host(w) => {
            // The real host checks what we send.
            let mut m = m;
            m.finish_csum();
            if at <= now {
                w.write(m.data());
            } else {
                let w = w.clone();
                k.timeout_at(at, Action::Call(Box::new(move |_| w.write(m.data()))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_units() {
        assert_eq!(parse_bw("10Mbit/s"), Ok(10_000_000));
        assert_eq!(parse_bw("1.5Gbit/s"), Ok(1_500_000_000));
        assert_eq!(parse_bw("64000"), Ok(64_000));
        assert_eq!(parse_bw("2MByte/s"), Ok(16_000_000));
        assert!(parse_bw("fast").is_err());
        assert!(parse_bw("10Mfurlongs/s").is_err());
        assert_eq!(fmt_bw(10_000_000), "10Mbit/s");
    }

    #[test]
    fn serialization_delay_and_drop_tail() {
        let mut p = Pipe::new(PipeConf {
            bw: 8_000_000, // 1 byte per microsecond
            delay: Duration::from_millis(10),
            queue: QueueLimit::Frames(2),
            ..PipeConf::default()
        });
        let t0 = Time(1_000_000_000);
        let a = p.schedule(t0, 1000, || 0.5);
        let b = p.schedule(t0, 1000, || 0.5);
        let c = p.schedule(t0, 1000, || 0.5);
        assert_eq!(a, vec![Time(t0.0 + 1_000_000 + 10_000_000)]);
        assert_eq!(b, vec![Time(t0.0 + 2_000_000 + 10_000_000)], "waits for the first");
        assert!(c.is_empty(), "queue of 2 full: dropped");
        assert_eq!(p.stats.queue_drops, 1);
        // Once the first has left, there is room again.
        let d = p.schedule(Time(t0.0 + 1_000_000), 1000, || 0.5);
        assert_eq!(d, vec![Time(t0.0 + 3_000_000 + 10_000_000)]);
    }

    #[test]
    fn loss_duplication_and_bit_errors() {
        let mut p = Pipe::new(PipeConf {
            plr: 0.5,
            dup: 0.5,
            ..PipeConf::default()
        });
        assert!(p.schedule(Time(0), 100, || 0.1).is_empty(), "lost");
        assert_eq!(p.schedule(Time(0), 100, || 0.9).len(), 1);
        let mut draws = [0.9, 0.1].into_iter();
        assert_eq!(
            p.schedule(Time(0), 100, || draws.next().unwrap_or(0.9)).len(),
            2,
            "duplicated"
        );
        let mut p = Pipe::new(PipeConf {
            ber: 1e-3,
            ..PipeConf::default()
        });
        // 1000 bytes at BER 1e-3: almost surely corrupted.
        assert!(p.schedule(Time(0), 1000, || 0.5).is_empty());
        assert_eq!(p.stats.ber_drops, 1);
    }

    #[test]
    fn jitter_stays_within_bounds_and_never_before_sending() {
        let mut p = Pipe::new(PipeConf {
            delay: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            ..PipeConf::default()
        });
        let mut x = 1u64;
        let mut rnd = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..1000 {
            let t = p.schedule(Time(0), 100, &mut rnd)[0];
            assert!((5_000_000..=15_000_000).contains(&t.0), "{t:?}");
        }
    }
}
