//! nc(1): arbitrary TCP and UDP connections and listens, after FreeBSD's
//! `contrib/netcat`: connect or listen (`-l`, `-k`), UDP (`-u`), source
//! address and port (`-s`, `-p`), timeouts (`-w`), port scans (`-z`),
//! verbose reports (`-v`), and a FIN when standard input ends (`-N`).
//! Standard input goes to the network and the network to standard output,
//! so `nc -N host port < file` and `nc -l port > file` move a file.

use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use clap::Parser;
use futures_io::{AsyncRead, AsyncWrite};

use crate::errln;
use crate::kern::proc::{Proc, Sleep};
use crate::socket::{TcpListener, TcpStream, UdpSocket};

/// arbitrary TCP and UDP connections and listens (nc(1))
#[derive(Parser, Debug)]
#[command(
    name = "nc",
    disable_help_flag = true,
    disable_version_flag = true,
    override_usage = "nc [-46dhklNnuvz] [-p source_port] [-s source] [-w timeout] [destination] [port]"
)]
pub struct NcArgs {
    /// Use IPv4 addresses only.
    #[arg(short = '4')]
    inet4: bool,
    /// IPv6 addresses only.
    #[arg(short = '6')]
    inet6: bool,
    /// Do not attempt to read from stdin.
    #[arg(short = 'd')]
    no_stdin: bool,
    /// Print help.
    #[arg(short = 'h')]
    help: bool,
    /// Keep listening for another connection after the current one ends.
    #[arg(short = 'k')]
    keep: bool,
    /// Listen for an incoming connection rather than connect.
    #[arg(short = 'l')]
    listen: bool,
    /// Shutdown the network socket after EOF on stdin.
    #[arg(short = 'N')]
    shutdown: bool,
    /// Do not do any DNS or service lookups.
    #[arg(short = 'n')]
    numeric: bool,
    /// Use UDP instead of TCP.
    #[arg(short = 'u')]
    udp: bool,
    /// Verbose.
    #[arg(short = 'v')]
    verbose: bool,
    /// Scan for listening daemons without sending them any data.
    #[arg(short = 'z')]
    scan: bool,
    /// Specify local port for remote connects.
    #[arg(short = 'p', value_name = "source_port")]
    source_port: Option<String>,
    /// Local source address.
    #[arg(short = 's', value_name = "source")]
    source: Option<String>,
    /// Timeout for connects and final net reads, in seconds.
    #[arg(short = 'w', value_name = "timeout")]
    timeout: Option<String>,
    /// [destination] [port]
    #[arg(value_name = "args")]
    args: Vec<String>,
}

/// The bytes nc moves per read, each way (`BUFSIZE`).
const BUFSIZE: usize = 16384;

/// A few of `/etc/services`, for `-v` reports.
fn service(port: u16, udp: bool) -> &'static str {
    match (port, udp) {
        (7, _) => "echo",
        (9, _) => "discard",
        (13, _) => "daytime",
        (19, _) => "chargen",
        (21, false) => "ftp",
        (22, _) => "ssh",
        (23, false) => "telnet",
        (25, false) => "smtp",
        (53, _) => "domain",
        (67, true) => "bootps",
        (69, true) => "tftp",
        (80, _) => "http",
        (123, _) => "ntp",
        (443, _) => "https",
        (514, true) => "syslog",
        (5201, false) => "iperf3",
        _ => "*",
    }
}

fn port_number(p: &Proc, s: &str) -> Result<u16, i32> {
    match s.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) if n < 1 => fail(p, &format!("port number too small: {s}")),
        Ok(_) => fail(p, &format!("port number too large: {s}")),
        Err(_) => fail(p, &format!("port number invalid: {s}")),
    }
}

fn fail<T>(p: &Proc, msg: &str) -> Result<T, i32> {
    errln!(p, "nc: {msg}");
    Err(1)
}

/// `getaddrinfo` for nc: an IPv6 address with -6 or when it is one
/// (its zone embedded), else IPv4.
fn host_addr(p: &Proc, s: &str, inet6: bool) -> Result<IpAddr, i32> {
    let a = if inet6 || s.contains(':') {
        super::ping6::getaddrinfo6(p, s).map(IpAddr::V6)
    } else {
        super::gethostbyname(p, s).map(|a| IpAddr::V4(a.into()))
    };
    match a {
        Some(a) => Ok(a),
        None => fail(p, "getaddrinfo: hostname nor servname provided, or not known"),
    }
}

/// A socket address of a (zone-embedded) address and a port.
fn sockaddr(a: IpAddr, port: u16) -> SocketAddr {
    crate::netinet::in_pcb::Endpoint::new(a, port).into()
}

pub async fn nc(p: Proc, argv: Vec<String>) -> i32 {
    let a: NcArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    match run(&p, &a).await {
        Ok(code) | Err(code) => code,
    }
}

async fn run(p: &Proc, a: &NcArgs) -> Result<i32, i32> {
    if a.help {
        super::usage(p, &<NcArgs as clap::CommandFactory>::command());
        return Err(1);
    }
    let timeout = match &a.timeout {
        None => None,
        Some(t) => match t.parse::<u64>() {
            Ok(s) if s <= i32::MAX as u64 / 1000 => Some(Duration::from_secs(s)),
            Ok(_) => return fail(p, &format!("timeout too large: {t}")),
            Err(_) => return fail(p, &format!("timeout invalid: {t}")),
        },
    };
    if a.listen {
        if a.source.is_some() {
            return fail(p, "cannot use -s and -l");
        }
        if a.source_port.is_some() {
            return fail(p, "cannot use -p and -l");
        }
        if a.scan {
            return fail(p, "cannot use -z and -l");
        }
    } else if a.keep {
        return fail(p, "must use -l with -k");
    }
    let (host, port) = match (a.listen, a.args.as_slice()) {
        (true, [port]) => (None, port.clone()),
        (_, [host, port]) => (Some(host.clone()), port.clone()),
        _ => {
            super::usage(p, &<NcArgs as clap::CommandFactory>::command());
            return Err(1);
        }
    };
    let io = Io {
        stdin: !a.no_stdin,
        shutdown: a.shutdown,
        timeout,
    };
    if a.listen {
        let addr = match &host {
            Some(h) => host_addr(p, h, a.inet6)?,
            None if a.inet6 => Ipv6Addr::UNSPECIFIED.into(),
            None => Ipv4Addr::UNSPECIFIED.into(),
        };
        let local = sockaddr(addr, port_number(p, &port)?);
        return if a.udp {
            listen_udp(p, a, local, &io).await
        } else {
            listen_tcp(p, a, local, &io).await
        };
    }
    let host = host.unwrap_or_default();
    let dst = host_addr(p, &host, a.inet6)?;
    let source = match &a.source {
        Some(s) => host_addr(p, s, dst.is_ipv6())?,
        None if dst.is_ipv6() => Ipv6Addr::UNSPECIFIED.into(),
        None => Ipv4Addr::UNSPECIFIED.into(),
    };
    let sport = match &a.source_port {
        Some(s) => port_number(p, s)?,
        None => 0,
    };
    let from = (a.source.is_some() || sport != 0).then(|| sockaddr(source, sport));
    // A port, or a range lo-hi for scans.
    let ports: Vec<u16> = match port.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port_number(p, lo)?, port_number(p, hi)?);
            (lo.min(hi)..=lo.max(hi)).collect()
        }
        None => vec![port_number(p, &port)?],
    };
    let proto = if a.udp { "udp" } else { "tcp" };
    let mut ret = 1;
    for port in ports {
        let to = sockaddr(dst, port);
        let conn = if a.udp {
            connect_udp(p, from, to)
        } else {
            match p.timeout(timeout, TcpStream::connect_from(p, from, to)).await {
                Some(r) => r.map(Conn::Tcp),
                None => Err(io::Error::new(io::ErrorKind::TimedOut, "Operation timed out")),
            }
        };
        let conn = match conn {
            Ok(c) => c,
            // remote_connect: a source it cannot bind ends nc.
            Err(e)
                if from.is_some() && matches!(e.kind(), io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse) =>
            {
                return fail(p, &format!("bind failed: {e}"));
            }
            Err(e) => {
                if a.verbose {
                    errln!(p, "nc: connect to {host} port {port} ({proto}) failed: {e}");
                }
                continue;
            }
        };
        ret = 0;
        if let Conn::Udp(s) = &conn
            && (a.verbose || a.scan)
            && !udptest(s)
        {
            ret = 1;
            continue;
        }
        if a.verbose || a.scan {
            let svc = if a.numeric { "*" } else { service(port, a.udp) };
            errln!(p, "Connection to {host} {port} port [{proto}/{svc}] succeeded!");
        }
        if !a.scan {
            readwrite(p, conn, &io, false).await;
        }
    }
    Ok(ret)
}

/// Four one-byte datagrams: a refused one shows as an error (`udptest`).
fn udptest(s: &UdpSocket) -> bool {
    let mut ok = false;
    for _ in 0..4 {
        ok = s.try_send(b"X").is_ok();
    }
    ok
}

fn connect_udp(p: &Proc, from: Option<SocketAddr>, to: SocketAddr) -> io::Result<Conn> {
    let any = if to.is_ipv6() {
        sockaddr(Ipv6Addr::UNSPECIFIED.into(), 0)
    } else {
        sockaddr(Ipv4Addr::UNSPECIFIED.into(), 0)
    };
    let s = UdpSocket::bind(p, from.unwrap_or(any))?;
    s.connect(to)?;
    Ok(Conn::Udp(s))
}

async fn listen_tcp(p: &Proc, a: &NcArgs, local: SocketAddr, io: &Io) -> Result<i32, i32> {
    let l = match TcpListener::bind_backlog(p, local, 1) {
        Ok(l) => l,
        Err(e) => return fail(p, &format!("bind: {e}")),
    };
    loop {
        let (s, from) = match l.accept().await {
            Ok(x) => x,
            Err(e) => return fail(p, &format!("accept: {e}")),
        };
        if a.verbose {
            errln!(p, "Connection from {} {} received!", from.ip(), from.port());
        }
        readwrite(p, Conn::Tcp(s), io, true).await;
        if !a.keep {
            return Ok(0);
        }
    }
}

async fn listen_udp(p: &Proc, a: &NcArgs, local: SocketAddr, io: &Io) -> Result<i32, i32> {
    loop {
        let s = match UdpSocket::bind(p, local) {
            Ok(s) => s,
            Err(e) => return fail(p, &format!("bind: {e}")),
        };
        // The first datagram names the peer; it is output like the rest.
        let mut buf = vec![0u8; BUFSIZE];
        let (n, from) = match s.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => return fail(p, &format!("recvfrom: {e}")),
        };
        p.stdout.write_bytes(&buf[..n]);
        if let Err(e) = s.connect(from) {
            return fail(p, &format!("connect: {e}"));
        }
        if a.verbose {
            errln!(p, "Connection from {} {} received!", from.ip(), from.port());
        }
        readwrite(p, Conn::Udp(s), io, true).await;
        if !a.keep {
            return Ok(0);
        }
    }
}

/// What `readwrite` was told.
struct Io {
    stdin: bool,
    shutdown: bool,
    timeout: Option<Duration>,
}

enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

impl Conn {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self {
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Udp(s) => s.poll_recv_from(cx, buf).map_ok(|(n, _)| n),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Udp(s) => Poll::Ready(s.try_send(buf)),
        }
    }

    fn shutdown(&self) {
        if let Conn::Tcp(s) = self {
            let _ = s.shutdown(Shutdown::Write);
        }
    }
}

/// Move standard input to the network and the network to standard output
/// until both directions are done (`readwrite`): stdin at its end and sent,
/// and the peer done sending — or, when listening, just the peer done; or
/// nothing moved for the `-w` timeout.
async fn readwrite(p: &Proc, mut conn: Conn, io: &Io, listening: bool) {
    let mut stdin_open = io.stdin;
    let mut net_in = true;
    let mut net_out = true;
    let mut pending: Vec<u8> = Vec::new();
    let mut ibuf = vec![0u8; BUFSIZE];
    let mut nbuf = vec![0u8; BUFSIZE];
    let idle = |p: &Proc| io.timeout.map(|d| p.sleep(d));
    let mut timer: Option<Sleep> = idle(p);
    if !stdin_open && io.shutdown {
        conn.shutdown();
    }
    poll_fn(|cx| {
        loop {
            let mut moved = false;
            if stdin_open && pending.is_empty() {
                match p.stdin.poll_read(cx, &mut ibuf) {
                    Poll::Ready(Ok(0) | Err(_)) => {
                        stdin_open = false;
                        if io.shutdown {
                            conn.shutdown();
                        }
                        moved = true;
                    }
                    Poll::Ready(Ok(n)) => {
                        pending.extend_from_slice(&ibuf[..n]);
                        moved = true;
                    }
                    Poll::Pending => {}
                }
            }
            if !pending.is_empty() && net_out {
                match conn.poll_write(cx, &pending) {
                    Poll::Ready(Ok(n)) => {
                        pending.drain(..n);
                        moved = true;
                    }
                    Poll::Ready(Err(_)) => {
                        // The peer is gone: stop reading input, as nc does.
                        net_out = false;
                        stdin_open = false;
                        pending.clear();
                        moved = true;
                    }
                    Poll::Pending => {}
                }
            }
            if net_in {
                match conn.poll_read(cx, &mut nbuf) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        net_in = false;
                        moved = true;
                    }
                    Poll::Ready(Ok(n)) => {
                        p.stdout.write_bytes(&nbuf[..n]);
                        moved = true;
                    }
                    Poll::Pending => {}
                }
            }
            let sent = !stdin_open && (pending.is_empty() || !net_out);
            if !net_in && (sent || listening) {
                return Poll::Ready(());
            }
            if moved {
                timer = idle(p);
                continue;
            }
            return match timer.as_mut().map(|t| Pin::new(t).poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(()),
                _ => Poll::Pending,
            };
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_name_the_well_known_ports() {
        assert_eq!(service(80, false), "http");
        assert_eq!(service(5201, false), "iperf3");
        assert_eq!(service(6000, true), "*");
    }
}
