//! iperf3: network throughput tests, compatible on the wire with iperf3
//! 3.12 (a Linux iperf3 client or server can be the other end), and with
//! its output: client and server (`-c`, `-s`), time or byte or block
//! counts (`-t`, `-n`, `-k`), parallel streams (`-P`), reverse mode
//! (`-R`), TCP or UDP with a target rate (`-u`, `-b`), reporting bit
//! rates, retransmits, and for UDP loss and jitter.

mod client;
mod data;
mod proto;
mod report;
mod server;

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use data::{Sock, Stream, Test};
use proto::{Error, int};
use report::Line;

/// perform network throughput tests (iperf3(1))
#[derive(Parser, Debug)]
#[command(name = "iperf3", disable_help_flag = true, disable_version_flag = true)]
pub struct Iperf3Args {
    /// Run in server mode.
    #[arg(short = 's', long = "server")]
    server: bool,
    /// Run in client mode, connecting to host.
    #[arg(short = 'c', long = "client", value_name = "host")]
    client: Option<String>,
    /// Server port to listen on / connect to.
    #[arg(short = 'p', long = "port", default_value_t = proto::PORT)]
    port: u16,
    /// Seconds between periodic reports (0 for none).
    #[arg(short = 'i', long = "interval", default_value_t = 1.0)]
    interval: f64,
    /// Handle one client connection, then exit.
    #[arg(short = '1', long = "one-off")]
    one_off: bool,
    /// Use UDP rather than TCP.
    #[arg(short = 'u', long = "udp")]
    udp: bool,
    /// Target bitrate in bits/sec (0 for unlimited; UDP default 1M).
    #[arg(short = 'b', long = "bitrate", value_name = "#[KMG]")]
    bitrate: Option<String>,
    /// Time in seconds to transmit for (default 10).
    #[arg(short = 't', long = "time", value_name = "secs")]
    time: Option<u64>,
    /// Number of bytes to transmit (instead of -t).
    #[arg(short = 'n', long = "bytes", value_name = "#[KMG]")]
    bytes: Option<String>,
    /// Number of blocks (packets) to transmit (instead of -t or -n).
    #[arg(short = 'k', long = "blockcount", value_name = "#[KMG]")]
    blocks: Option<String>,
    /// Length of buffer to read or write (TCP 128K, UDP the path's MSS).
    #[arg(short = 'l', long = "length", value_name = "#[KMG]")]
    length: Option<String>,
    /// Number of parallel client streams to run.
    #[arg(short = 'P', long = "parallel", default_value_t = 1)]
    parallel: u32,
    /// Run in reverse mode (server sends, client receives).
    #[arg(short = 'R', long = "reverse")]
    reverse: bool,
    /// Socket buffer sizes.
    #[arg(short = 'w', long = "window", value_name = "#[KMG]")]
    window: Option<String>,
    /// Set TCP congestion control algorithm.
    #[arg(short = 'C', long = "congestion", value_name = "algo")]
    congestion: Option<String>,
    /// Set TCP/SCTP no delay, disabling Nagle's Algorithm.
    #[arg(short = 'N', long = "no-delay")]
    nodelay: bool,
    /// Bind to the interface associated with the address.
    #[arg(short = 'B', long = "bind", value_name = "host")]
    bind: Option<String>,
    /// Only use IPv4.
    #[arg(short = '4', long = "version4")]
    v4: bool,
    /// Only use IPv6.
    #[arg(short = '6', long = "version6")]
    v6: bool,
}

impl Iperf3Args {
    /// `host` as getaddrinfo(3) gives it for `-4`, `-6` or neither: an
    /// IPv4 address first (a name's IPv4 address), then an IPv6 one.
    fn resolve(&self, p: &crate::kern::proc::Proc, host: &str) -> Option<std::net::IpAddr> {
        let v4 = || crate::userland::gethostbyname(p, host).map(|a| std::net::IpAddr::V4(a.into()));
        let v6 = || crate::userland::ping6::getaddrinfo6(p, host).map(std::net::IpAddr::V6);
        match (self.v4, self.v6) {
            (true, _) => v4(),
            (_, true) => v6(),
            _ => v4().or_else(v6),
        }
    }
}

/// `10`, `64K`, `1.5M`, `1G` (K = 1024 for sizes, 1000 for rates, as
/// iperf3's `unit_atoi` and `unit_atof_rate`).
fn unit_number(s: &str, k: f64) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], k),
        'm' | 'M' => (&s[..s.len() - 1], k * k),
        'g' | 'G' => (&s[..s.len() - 1], k * k * k),
        't' | 'T' => (&s[..s.len() - 1], k * k * k * k),
        _ => (s, 1.0),
    };
    let n: f64 = num.parse().ok()?;
    (n >= 0.0 && n.is_finite()).then_some((n * mult) as u64)
}

fn parameter_error(p: &Proc, what: &str) -> i32 {
    errln!(p, "iperf3: parameter error - {what}");
    errln!(p, "Usage: iperf3 [-s|-c host] [options]");
    1
}

pub async fn iperf3(p: Proc, argv: Vec<String>) -> i32 {
    let a: Iperf3Args = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let size = |s: &Option<String>| s.as_deref().map(|s| unit_number(s, 1024.0));
    let (bytes, blocks, len, window) = (size(&a.bytes), size(&a.blocks), size(&a.length), size(&a.window));
    let rate = a.bitrate.as_deref().map(|s| unit_number(s, 1000.0));
    if [bytes, blocks, len, window, rate].contains(&Some(None)) {
        return parameter_error(&p, "bad number");
    }
    let interval = (a.interval > 0.0 && a.interval.is_finite()).then(|| Duration::from_secs_f64(a.interval));
    let r = match (a.server, &a.client) {
        (true, None) => server::run(&p, &a, interval).await,
        (false, Some(host)) => {
            let len = len.flatten().map(|l| l as usize);
            if a.parallel == 0 || a.parallel > 128 {
                return parameter_error(&p, "number of parallel streams too large (maximum = 128)");
            }
            if a.udp && len.is_some_and(|l| !(proto::MIN_UDP_BLOCKSIZE..=proto::MAX_UDP_BLOCKSIZE).contains(&l)) {
                return parameter_error(&p, "block size invalid");
            }
            let params = proto::Params {
                udp: a.udp,
                time: if (bytes.is_some() || blocks.is_some()) && a.time.is_none() {
                    0
                } else {
                    a.time.unwrap_or(10)
                },
                bytes: bytes.flatten().unwrap_or(0),
                blocks: blocks.flatten().unwrap_or(0),
                parallel: a.parallel,
                reverse: a.reverse,
                len: len.unwrap_or(0),
                bandwidth: rate.flatten().unwrap_or(if a.udp { proto::UDP_RATE } else { 0 }),
                nodelay: a.nodelay,
                congestion: a.congestion.clone(),
                window: window.flatten().map(|w| w as usize),
            };
            client::run(&p, &a, host, params, interval).await
        }
        (true, Some(_)) => return parameter_error(&p, "cannot be both server and client"),
        (false, None) => return parameter_error(&p, "must either be a client (-c) or server (-s)"),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            errln!(p, "iperf3: error - {e}");
            1
        }
    }
}

/// Which end we are, for the reports.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// Our results, as `send_results` writes them.
fn results_json(t: &Test, end: Time, udp: bool) -> Value {
    let sending = t.streams.iter().any(|s| s.sender);
    let has_retr = match (sending, udp) {
        (false, _) => -1,
        (true, false) => 1,
        (true, true) => 0,
    };
    let streams: Vec<Value> = t
        .streams
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "bytes": s.bytes,
                "retransmits": if s.sender && !udp { s.retransmits() as i64 } else { -1 },
                "jitter": if s.sender { 0.0 } else { s.jitter },
                "errors": if s.sender { 0 } else { s.errors },
                "packets": s.packets,
                "start_time": 0,
                "end_time": t.secs(end),
            })
        })
        .collect();
    let mut v = json!({
        "cpu_util_total": 0.0,
        "cpu_util_user": 0.0,
        "cpu_util_system": 0.0,
        "sender_has_retransmits": has_retr,
        "streams": streams,
    });
    if !udp && let Some(m) = v.as_object_mut() {
        m.insert("congestion_used".into(), "cubic".into());
    }
    v
}

/// Take the peer's results (`get_results`); its `sender_has_retransmits`.
fn take_results(t: &mut Test, v: &Value) -> Result<i64, Error> {
    const BAD: Error = Error::Ctrl("unable to receive results");
    for k in [
        "cpu_util_total",
        "cpu_util_user",
        "cpu_util_system",
        "sender_has_retransmits",
    ] {
        v.get(k).ok_or(BAD)?;
    }
    let has = int(v, "sender_has_retransmits").ok_or(BAD)?;
    for r in v.get("streams").and_then(Value::as_array).ok_or(BAD)? {
        let id = int(r, "id").ok_or(BAD)?;
        let s = t
            .streams
            .iter_mut()
            .find(|s| i64::from(s.id) == id)
            .ok_or(Error::Ctrl("stream has an invalid id"))?;
        let get = |k: &str| int(r, k).ok_or(BAD);
        s.peer.bytes = get("bytes")?.max(0) as u64;
        s.peer.retransmits = get("retransmits")?;
        s.peer.jitter = r.get("jitter").and_then(Value::as_f64).ok_or(BAD)?;
        s.peer.errors = get("errors")?.max(0) as u64;
        s.peer.packets = get("packets")?.max(0) as u64;
        let f = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        s.peer.time = f("end_time") - f("start_time");
    }
    Ok(has)
}

/// One stream's `[  5] local A port P connected to B port Q` line.
fn connected_line(s: &Stream) -> String {
    let (l, r) = match &s.sock {
        Sock::Tcp(t) => (t.local_addr().ok(), t.peer_addr().ok()),
        Sock::Udp(u) => (u.local_addr().ok(), u.peer_addr().ok()),
    };
    let none = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let (l, r) = (l.unwrap_or(none), r.unwrap_or(none));
    // IPv4-mapped addresses of a dual socket as IPv4 (mapped_v4_to_regular_v4).
    format!(
        "[{:3}] local {} port {} connected to {} port {}\n",
        s.fd,
        l.ip().to_canonical(),
        l.port(),
        r.ip().to_canonical(),
        r.port()
    )
}

/// The interval lines (`print_interval_results`), and their sum.
fn interval_lines(t: &mut Test, from: Time, to: Time, udp: bool, first: &mut bool) -> String {
    let (st, et) = (t.secs(from), t.secs(to));
    let sending = t.streams.iter().any(|s| s.sender);
    let mut out = String::new();
    if *first {
        out += match (udp, sending) {
            (false, true) => report::HEADER_RETR_CWND,
            (false, false) => report::HEADER,
            (true, true) => report::HEADER_UDP_SENDER,
            (true, false) => report::HEADER_UDP,
        };
        *first = false;
    } else if t.streams.len() > 1 {
        out += report::SEPARATOR;
    }
    let mut sum = data::Interval::default();
    let mut jitter = 0.0;
    for s in t.streams.iter_mut() {
        let iv = s.take_interval();
        let line = Line {
            id: Some(s.fd),
            start: st,
            end: et,
            bytes: iv.bytes,
            role: "",
        };
        out += &match (udp, s.sender) {
            (false, true) => line.retr_cwnd(iv.retrans, s.cwnd()),
            (false, false) => line.plain(),
            (true, true) => line.udp_sender(iv.packets),
            (true, false) => line.udp(s.jitter, iv.errors, iv.packets),
        };
        sum.bytes += iv.bytes;
        sum.packets += iv.packets;
        sum.errors += iv.errors;
        sum.retrans += iv.retrans;
        jitter += s.jitter;
    }
    if t.streams.len() > 1 {
        let line = Line {
            id: None,
            start: st,
            end: et,
            bytes: sum.bytes,
            role: "",
        };
        let n = t.streams.len() as f64;
        out += &match (udp, sending) {
            (false, true) => line.retr(sum.retrans),
            (false, false) => line.plain(),
            (true, true) => line.udp_sender(sum.packets),
            (true, false) => line.udp(jitter / n, sum.errors, sum.packets),
        };
    }
    out
}

/// The summary (`iperf_print_results`): per stream a sender and a
/// receiver line (the server shows only its own side), then the sums.
fn summary(t: &Test, end: Time, udp: bool, role: Role, peer_has_retr: bool) -> String {
    let sending = t.streams.iter().any(|s| s.sender);
    let retr = !udp && (sending || peer_has_retr);
    let mut out = String::from(report::SEPARATOR);
    out += match (udp, retr) {
        (true, _) => report::HEADER_UDP,
        (false, true) => report::HEADER_RETR,
        (false, false) => report::HEADER,
    };
    let own = t.secs(end);
    let show_sender = |s: &Stream| role == Role::Client || s.sender;
    let show_receiver = |s: &Stream| role == Role::Client || !s.sender;
    struct Totals {
        sent: u64,
        received: u64,
        retr: u64,
        packets_s: u64,
        packets_r: u64,
        lost: u64,
        jitter: f64,
        st: f64,
        rt: f64,
    }
    let mut tot = Totals {
        sent: 0,
        received: 0,
        retr: 0,
        packets_s: 0,
        packets_r: 0,
        lost: 0,
        jitter: 0.0,
        st: own,
        rt: own,
    };
    for s in &t.streams {
        // The sender's and the receiver's view of this stream.
        let (sent, received) = if s.sender {
            (s.bytes, s.peer.bytes)
        } else {
            (s.peer.bytes, s.bytes)
        };
        let (st, rt) = if s.sender {
            (own, if s.peer.time > 0.0 { s.peer.time } else { own })
        } else {
            (if s.peer.time > 0.0 { s.peer.time } else { own }, own)
        };
        let retrans = if s.sender {
            s.retransmits()
        } else {
            s.peer.retransmits.max(0) as u64
        };
        let (packets_s, packets_r) = if s.sender {
            (s.packets, s.peer.packets)
        } else {
            (s.peer.packets, s.packets)
        };
        let (lost, jitter) = if s.sender {
            (s.peer.errors, s.peer.jitter)
        } else {
            (s.errors, s.jitter)
        };
        tot.sent += sent;
        tot.received += received;
        tot.retr += retrans;
        tot.packets_s += packets_s;
        tot.packets_r += packets_r;
        tot.lost += lost;
        tot.jitter += jitter;
        tot.st = st;
        tot.rt = rt;
        let line = |bytes, end, role| Line {
            id: Some(s.fd),
            start: 0.0,
            end,
            bytes,
            role,
        };
        if show_sender(s) {
            let l = line(sent, st, "sender");
            out += &match (udp, retr) {
                (true, _) => l.udp(0.0, 0, packets_s),
                (false, true) => l.retr(retrans),
                (false, false) => l.plain(),
            };
        }
        if show_receiver(s) {
            let l = line(received, rt, "receiver");
            out += &if udp {
                l.udp(jitter, lost, if packets_r > 0 { packets_r } else { packets_s })
            } else {
                l.plain()
            };
        }
    }
    if t.streams.len() > 1 {
        let line = |bytes, end, role| Line {
            id: None,
            start: 0.0,
            end,
            bytes,
            role,
        };
        let n = t.streams.len() as f64;
        if role == Role::Client || sending {
            let l = line(tot.sent, tot.st, "sender");
            out += &match (udp, retr) {
                (true, _) => l.udp(0.0, 0, tot.packets_s),
                (false, true) => l.retr(tot.retr),
                (false, false) => l.plain(),
            };
        }
        if role == Role::Client || !sending {
            let l = line(tot.received, tot.rt, "receiver");
            out += &if udp {
                l.udp(tot.jitter / n, tot.lost, tot.packets_r.max(tot.packets_s))
            } else {
                l.plain()
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_with_units() {
        assert_eq!(super::unit_number("10", 1024.0), Some(10));
        assert_eq!(super::unit_number("64K", 1024.0), Some(65536));
        assert_eq!(super::unit_number("100M", 1000.0), Some(100_000_000));
        assert_eq!(super::unit_number("1.5G", 1000.0), Some(1_500_000_000));
        assert_eq!(super::unit_number("x", 1000.0), None);
        assert_eq!(super::unit_number("-1", 1000.0), None);
    }
}
