//! The data streams of a test and the loop that moves them: TCP blocks
//! written as fast as the socket takes them (or paced to `-b`), UDP
//! datagrams with iperf3's 12-byte header (seconds, microseconds,
//! sequence number) paced to the rate, receivers counting bytes, loss,
//! reordering and jitter (RFC 3550 §6.4.1, A.8) — while the control
//! connection is watched and intervals are reported.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::kern::clock::Time;
use crate::kern::proc::{Proc, Sleep};
use crate::socket::{TcpStream, UdpSocket};

pub enum Sock {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// What one interval of a stream moved.
#[derive(Clone, Copy, Default)]
pub struct Interval {
    pub bytes: u64,
    pub packets: u64,
    pub errors: u64,
    pub retrans: u64,
}

/// What the other end said about a stream in its results.
#[derive(Clone, Copy, Default)]
pub struct Peer {
    pub bytes: u64,
    /// -1: it does not know.
    pub retransmits: i64,
    pub jitter: f64,
    pub errors: u64,
    pub packets: u64,
    /// Seconds the stream ran there (0: not said).
    pub time: f64,
}

/// A stream (`struct iperf_stream`).
pub struct Stream {
    pub peer: Peer,
    /// iperf3's stream id (1, 3, 4, ...), as the results name it.
    pub id: u32,
    /// The descriptor, as the reports show it: `[  5]`.
    pub fd: u32,
    pub sock: Sock,
    pub sender: bool,
    pub bytes: u64,
    pub blocks: u64,
    /// Sender: datagrams sent; receiver: the highest sequence number seen.
    pub packets: u64,
    /// Receiver: datagrams lost (`cnt_error`).
    pub errors: u64,
    pub outoforder: u64,
    /// Seconds (RFC 3550's estimator).
    pub jitter: f64,
    prev_transit: Option<f64>,
    /// TCP retransmits when the test started.
    retrans0: u64,
    /// Where the interval began.
    mark: Interval,
    /// The part of the current TCP block not yet written.
    off: usize,
}

impl Stream {
    pub fn new(id: u32, fd: u32, sock: Sock, sender: bool) -> Stream {
        let retrans0 = match &sock {
            Sock::Tcp(s) => s.retransmits().unwrap_or(0),
            Sock::Udp(_) => 0,
        };
        Stream {
            peer: Peer::default(),
            id,
            fd,
            sock,
            sender,
            bytes: 0,
            blocks: 0,
            packets: 0,
            errors: 0,
            outoforder: 0,
            jitter: 0.0,
            prev_transit: None,
            retrans0,
            mark: Interval::default(),
            off: 0,
        }
    }

    /// Retransmitted TCP segments since the test began.
    pub fn retransmits(&self) -> u64 {
        match &self.sock {
            Sock::Tcp(s) => s.retransmits().unwrap_or(0).saturating_sub(self.retrans0),
            Sock::Udp(_) => 0,
        }
    }

    pub fn cwnd(&self) -> u64 {
        match &self.sock {
            Sock::Tcp(s) => u64::from(s.cwnd().unwrap_or(0)),
            Sock::Udp(_) => 0,
        }
    }

    fn totals(&self) -> Interval {
        Interval {
            bytes: self.bytes,
            packets: self.packets,
            errors: self.errors,
            retrans: self.retransmits(),
        }
    }

    /// What moved since the last call, and start a new interval.
    pub fn take_interval(&mut self) -> Interval {
        let now = self.totals();
        let d = Interval {
            bytes: now.bytes - self.mark.bytes,
            packets: now.packets.saturating_sub(self.mark.packets),
            errors: now.errors.saturating_sub(self.mark.errors),
            retrans: now.retrans.saturating_sub(self.mark.retrans),
        };
        self.mark = now;
        d
    }

    /// Send a TCP block or UDP datagram (or part of one).
    fn poll_send(&mut self, cx: &mut Context<'_>, block: &mut [u8], now: Time) -> Poll<io::Result<usize>> {
        match &mut self.sock {
            Sock::Tcp(s) => match Pin::new(s).poll_write(cx, &block[self.off..]) {
                Poll::Ready(Ok(n)) => {
                    self.off += n;
                    if self.off == block.len() {
                        self.off = 0;
                        self.blocks += 1;
                    }
                    self.bytes += n as u64;
                    Poll::Ready(Ok(n))
                }
                other => other,
            },
            Sock::Udp(s) => {
                let t = now.as_duration();
                block[0..4].copy_from_slice(&(t.as_secs() as u32).to_be_bytes());
                block[4..8].copy_from_slice(&t.subsec_micros().to_be_bytes());
                block[8..12].copy_from_slice(&(self.packets as u32 + 1).to_be_bytes());
                let r = s.try_send(block);
                if let Ok(n) = r {
                    self.packets += 1;
                    self.blocks += 1;
                    self.bytes += n as u64;
                }
                Poll::Ready(r)
            }
        }
    }

    /// Receive what is there; `Ready(Ok(0))` at the end of a TCP stream.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        now: Time,
        counting: bool,
    ) -> Poll<io::Result<usize>> {
        let r = match &mut self.sock {
            Sock::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Sock::Udp(s) => s.poll_recv_from(cx, buf).map_ok(|(n, _)| n),
        };
        if let Poll::Ready(Ok(n)) = r
            && counting
            && n > 0
        {
            self.bytes += n as u64;
            self.blocks += 1;
            if matches!(self.sock, Sock::Udp(_)) && n >= 12 {
                self.udp_arrival(&buf[..n], now);
            }
        }
        r
    }

    /// Loss, reordering and jitter from a datagram's header (`iperf_udp_recv`).
    fn udp_arrival(&mut self, d: &[u8], now: Time) {
        let sec = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let usec = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        let pcount = u64::from(u32::from_be_bytes([d[8], d[9], d[10], d[11]]));
        if pcount > self.packets {
            self.errors += pcount - 1 - self.packets;
            self.packets = pcount;
        } else {
            self.outoforder += 1;
            self.errors = self.errors.saturating_sub(1);
        }
        let sent = f64::from(sec) + f64::from(usec) / 1e6;
        let transit = (now.as_secs_f64() - sent).abs();
        let d = (transit - self.prev_transit.unwrap_or(transit)).abs();
        self.prev_transit = Some(transit);
        self.jitter += (d - self.jitter) / 16.0;
    }

    /// Stop: TCP streams send their FIN.
    pub fn close(&self) {
        if let Sock::Tcp(s) = &self.sock {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
    }
}

/// Why the loop returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The test's time is up, or its byte or block count was moved.
    Done,
    /// A state byte came on the control connection.
    Ctrl(u8),
    /// The control connection closed or failed.
    CtrlClosed,
    /// A data stream failed (the message is iperf3's).
    Failed(&'static str),
}

/// What ends the loop besides the control connection.
pub struct Limits {
    pub end: Option<Time>,
    pub bytes: u64,
    pub blocks: u64,
}

/// Datagrams (or blocks) a sender moves per pass before it lets others run.
const BURST: usize = 64;

/// The streams of a test, and the clock of their reports.
pub struct Test {
    pub streams: Vec<Stream>,
    /// When the streams started (TEST_START).
    pub start: Time,
    pub interval: Option<Duration>,
    next_report: Option<Time>,
    /// Bits per second per stream; 0 for as fast as it goes.
    pub rate: u64,
    pub len: usize,
    /// Received data counts only while the test runs.
    pub counting: bool,
    /// Senders send only while the test runs.
    pub sending: bool,
}

impl Test {
    pub fn new(streams: Vec<Stream>, start: Time, interval: Option<Duration>, rate: u64, len: usize) -> Test {
        Test {
            streams,
            start,
            interval,
            next_report: interval.map(|i| start.saturating_add(i)),
            rate,
            len,
            counting: true,
            sending: true,
        }
    }

    pub fn secs(&self, t: Time) -> f64 {
        t.saturating_sub(self.start).as_secs_f64()
    }

    pub fn bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.bytes).sum()
    }

    /// Bytes moved since the last report.
    pub fn unreported(&self) -> u64 {
        self.streams.iter().map(|s| s.bytes - s.mark.bytes).sum()
    }

    /// Report the last, short interval if it moved data or lasted a
    /// tenth of an interval (`iperf_print_intermediate`).
    pub fn tail_due(&self, last: Time, end: Time) -> bool {
        let tail = end.saturating_sub(last);
        self.interval
            .is_some_and(|i| !tail.is_zero() && (tail >= i / 10 || self.unreported() > 0))
    }

    pub fn blocks(&self) -> u64 {
        self.streams.iter().map(|s| s.blocks).sum()
    }

    /// Move data until `limits` are met or the control connection speaks;
    /// `report(test, from, to)` runs at each interval's end.
    pub async fn run(
        &mut self,
        p: &Proc,
        ctrl: &mut TcpStream,
        limits: &Limits,
        mut report: impl FnMut(&mut Test, Time, Time),
    ) -> Stop {
        let mut block = vec![0u8; self.len.max(12)];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i * 131 + 7) as u8;
        }
        let mut rbuf = vec![0u8; 128 * 1024];
        // A timer to come back by.
        let mut timer: Option<(Time, Sleep)> = None;
        let mut last_report = self.start;
        poll_fn(|cx| {
            let now = p.now();
            while let Some(t) = self.next_report
                && now >= t
            {
                report(self, last_report, t);
                last_report = t;
                self.next_report = self.interval.map(|i| t.saturating_add(i));
            }
            if let Poll::Ready(s) = self.poll_ctrl(cx, ctrl) {
                return Poll::Ready(s);
            }
            if let Some(stop) = self.drain(cx, &mut rbuf, now) {
                return Poll::Ready(stop);
            }
            let done = limits.end.is_some_and(|e| now >= e)
                || (limits.bytes > 0 && self.bytes() >= limits.bytes)
                || (limits.blocks > 0 && self.blocks() >= limits.blocks);
            if done {
                return Poll::Ready(Stop::Done);
            }
            // Senders: a burst each, within the rate.
            let elapsed = now.saturating_sub(self.start).as_secs_f64();
            let rate = self.rate as f64;
            let paced_out = |s: &Stream| rate > 0.0 && (s.bytes * 8) as f64 >= rate * elapsed;
            let mut again = false;
            if self.sending {
                for s in self.streams.iter_mut().filter(|s| s.sender) {
                    let mut n = 0;
                    while !paced_out(s) && (limits.bytes == 0 || s.bytes < limits.bytes) {
                        if n == BURST {
                            again = true;
                            break;
                        }
                        match s.poll_send(cx, &mut block, now) {
                            Poll::Ready(Ok(_)) => n += 1,
                            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Poll::Ready(Err(_)) if matches!(s.sock, Sock::Tcp(_)) => {
                                return Poll::Ready(Stop::Failed("unable to write to stream socket"));
                            }
                            Poll::Ready(Err(_)) => break, // a datagram the network refused: lost
                            Poll::Pending => break,
                        }
                    }
                }
            }
            // All of `-n` is written: done now, not at the next report.
            if limits.bytes > 0 && self.sending && self.bytes() >= limits.bytes {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // When to look again without news from a socket: at the next
            // report, at the end, at iperf3's 1 ms pacing tick. (Time moves
            // with the bytes the links carry at their line rates.)
            let paced = self.sending && rate > 0.0 && self.streams.iter().any(|s| s.sender);
            let mut next = [self.next_report, limits.end].into_iter().flatten().min();
            let soon = |t: Time, next: Option<Time>| Some(next.map_or(t, |n| n.min(t)));
            if paced {
                next = soon(now.saturating_add(Duration::from_millis(1)), next);
            }
            if again {
                cx.waker().wake_by_ref();
            }
            if let Some(t) = next {
                if timer.as_ref().is_none_or(|(at, _)| *at != t) {
                    timer = Some((t, p.sleep_until(t)));
                }
                if let Some((_, w)) = timer.as_mut()
                    && Pin::new(w).poll(cx).is_ready()
                {
                    cx.waker().wake_by_ref();
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Read what the receiving streams have.
    fn drain(&mut self, cx: &mut Context<'_>, rbuf: &mut [u8], now: Time) -> Option<Stop> {
        for s in self.streams.iter_mut().filter(|s| !s.sender) {
            loop {
                match s.poll_recv(cx, rbuf, now, self.counting) {
                    Poll::Ready(Ok(0)) => break,
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(_)) if matches!(s.sock, Sock::Udp(_)) => break,
                    Poll::Ready(Err(_)) => return Some(Stop::Failed("unable to read from stream socket")),
                    Poll::Pending => break,
                }
            }
        }
        None
    }

    fn poll_ctrl(&mut self, cx: &mut Context<'_>, ctrl: &mut TcpStream) -> Poll<Stop> {
        let mut b = [0u8; 1];
        match Pin::new(ctrl).poll_read(cx, &mut b) {
            Poll::Ready(Ok(1)) => Poll::Ready(Stop::Ctrl(b[0])),
            Poll::Ready(_) => Poll::Ready(Stop::CtrlClosed),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_reordering_and_jitter_from_headers() {
        let h = crate::Host::new(Default::default());
        let p = h.proc(crate::Jid::HOST, crate::Stdio::null_all());
        let u = UdpSocket::bind(&p, "127.0.0.1:0".parse().expect("addr")).expect("bind");
        let mut s = Stream::new(1, 5, Sock::Udp(u), false);
        let dgram = |seq: u32, usec: u32| {
            let mut d = vec![0u8; 16];
            d[4..8].copy_from_slice(&usec.to_be_bytes());
            d[8..12].copy_from_slice(&seq.to_be_bytes());
            d
        };
        let at = |us: u64| Time(us * 1000);
        s.udp_arrival(&dgram(1, 0), at(1000));
        s.udp_arrival(&dgram(2, 1000), at(2000));
        s.udp_arrival(&dgram(5, 4000), at(5160)); // 3 and 4 missing; 160 µs late
        assert_eq!((s.packets, s.errors), (5, 2));
        s.udp_arrival(&dgram(3, 2000), at(5200)); // 3 came after all
        assert_eq!((s.packets, s.errors, s.outoforder), (5, 1, 1));
        assert!(s.jitter > 0.0 && s.jitter < 0.001, "{}", s.jitter);
    }
}
