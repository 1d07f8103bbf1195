//! The server (`iperf_server_api.c`): one test at a time on one port —
//! the control connection, then the streams (TCP connections proving the
//! cookie, or UDP sockets connected to whoever sent the connect message),
//! the test until the client says TEST_END, the results exchange.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::client::stream_id;
use super::data::{Limits, Sock, Stop, Stream, Test};
use super::proto::{self, Error, Params, json_read, json_write, recv_state, send_state};
use super::{Iperf3Args, Role, connected_line, interval_lines, results_json, summary, take_results};
use crate::errln;
use crate::kern::proc::Proc;
use crate::socket::{BindOpts, TcpListener, UdpSocket};

/// How long the server waits for a client's streams to come.
const STREAM_WAIT: Duration = Duration::from_secs(30);

pub async fn run(p: &Proc, a: &Iperf3Args, interval: Option<Duration>) -> Result<(), Error> {
    // Where to listen: the address given, or the wildcard of the family
    // asked for, or IPv6's taking IPv4 too (iperf3 turns IPV6_V6ONLY off).
    let (addr, opts) = match (&a.bind, a.v4, a.v6) {
        (Some(b), ..) => (
            a.resolve(p, b)
                .ok_or_else(|| Error::Msg(format!("unable to resolve host: {b}")))?,
            BindOpts::reuseaddr(),
        ),
        (None, true, _) => (Ipv4Addr::UNSPECIFIED.into(), BindOpts::reuseaddr()),
        (None, _, true) => (Ipv6Addr::UNSPECIFIED.into(), BindOpts::reuseaddr()),
        (None, false, false) => (
            Ipv6Addr::UNSPECIFIED.into(),
            BindOpts {
                v6only: Some(false),
                ..BindOpts::reuseaddr()
            },
        ),
    };
    let l = TcpListener::bind_with(p, SocketAddr::new(addr, a.port), 128, opts)
        .map_err(|e| Error::Msg(format!("unable to start listener for connections: {e}")))?;
    let dashes = "-----------------------------------------------------------\n";
    for n in 1.. {
        p.stdout
            .write_bytes(format!("{dashes}Server listening on {} (test #{n})\n{dashes}", a.port).as_bytes());
        let r = test(p, &l, opts, interval).await;
        if a.one_off {
            return r;
        }
        if let Err(e) = r {
            errln!(p, "iperf3: error - {e}");
        }
    }
    Ok(())
}

async fn test(p: &Proc, l: &TcpListener, opts: BindOpts, interval: Option<Duration>) -> Result<(), Error> {
    let out = |s: &str| p.stdout.write_bytes(s.as_bytes());
    let (mut ctrl, from) = l.accept().await?;
    let local = l.local_addr()?;
    let _ = ctrl.set_nodelay(true);
    out(&format!(
        "Accepted connection from {}, port {}\n",
        from.ip().to_canonical(),
        from.port()
    ));
    let mut cookie = [0u8; proto::COOKIE_SIZE];
    ctrl.read_exact(&mut cookie)
        .await
        .map_err(|_| Error::Ctrl("unable to receive cookie at server"))?;
    send_state(&mut ctrl, proto::PARAM_EXCHANGE).await?;
    let params = Params::from_json(&json_read(&mut ctrl, "unable to receive parameters from client").await?)?;
    let mut udp = if params.udp {
        Some(UdpSocket::bind_with(p, local, opts).map_err(|e| Error::Msg(format!("unable to start listener: {e}")))?)
    } else {
        None
    };
    send_state(&mut ctrl, proto::CREATE_STREAMS).await?;
    let sender = params.reverse;
    let mut streams = Vec::new();
    for i in 0..params.parallel as usize {
        let sock = match udp.take() {
            None => {
                let s = p
                    .timeout(Some(STREAM_WAIT), accept_stream(l, &cookie))
                    .await
                    .ok_or(Error::Ctrl("unable to accept stream connection"))??;
                Sock::Tcp(s)
            }
            Some(u) => {
                let mut b = [0u8; 65536];
                let (_, peer) = p
                    .timeout(Some(STREAM_WAIT), u.recv_from(&mut b))
                    .await
                    .ok_or(Error::Ctrl("unable to read from stream socket"))??;
                u.connect(peer)?;
                u.try_send(&proto::UDP_CONNECT_REPLY)?;
                // A fresh socket waits for the next stream.
                udp = Some(UdpSocket::bind_with(p, local, opts)?);
                Sock::Udp(u)
            }
        };
        let fd = match &sock {
            Sock::Tcp(s) => s.fd(),
            Sock::Udp(u) => u.fd(),
        };
        let s = Stream::new(stream_id(i), fd, sock, sender);
        out(&connected_line(&s));
        streams.push(s);
    }
    drop(udp);
    send_state(&mut ctrl, proto::TEST_START).await?;
    let start = p.now();
    send_state(&mut ctrl, proto::TEST_RUNNING).await?;
    let rate = if sender { params.bandwidth } else { 0 };
    let mut t = Test::new(streams, start, interval, rate, params.len);
    // iperf3's grace: the client has the test's time and 40 s more.
    let limits = Limits {
        end: (params.time > 0).then(|| start.saturating_add(Duration::from_secs(params.time + 40))),
        bytes: 0,
        blocks: 0,
    };
    let (mut first, mut last) = (true, start);
    let stop = t
        .run(p, &mut ctrl, &limits, |t, from, to| {
            out(&interval_lines(t, from, to, params.udp, &mut first));
            last = to;
        })
        .await;
    match stop {
        Stop::Ctrl(proto::TEST_END) => {}
        Stop::Ctrl(proto::CLIENT_TERMINATE) => return Err(Error::Ctrl("the client has terminated")),
        Stop::Ctrl(_) => return Err(Error::Ctrl("received an unknown control message")),
        Stop::CtrlClosed => return Err(Error::Ctrl("the client has unexpectedly closed the connection")),
        Stop::Done => {
            return Err(Error::Ctrl(
                "test ended by the server timer: no TEST_END from the client",
            ));
        }
        Stop::Failed(m) => return Err(Error::Ctrl(m)),
    }
    let end = p.now();
    if t.tail_due(last, end) {
        out(&interval_lines(&mut t, last, end, params.udp, &mut first));
    }
    for s in &t.streams {
        s.close();
    }
    out(&summary(&t, end, params.udp, Role::Server, false));
    send_state(&mut ctrl, proto::EXCHANGE_RESULTS).await?;
    let v = json_read(&mut ctrl, "unable to receive results").await?;
    take_results(&mut t, &v)?;
    json_write(&mut ctrl, &results_json(&t, end, params.udp)).await?;
    send_state(&mut ctrl, proto::DISPLAY_RESULTS).await?;
    match recv_state(&mut ctrl).await {
        Ok(proto::IPERF_DONE) => Ok(()),
        Ok(_) => Err(Error::Ctrl("received an unknown control message")),
        Err(_) => {
            errln!(p, "iperf3: the client has unexpectedly closed the connection");
            Ok(())
        }
    }
}

/// The next TCP stream with the test's cookie; others are told no.
async fn accept_stream(l: &TcpListener, cookie: &[u8]) -> Result<crate::socket::TcpStream, Error> {
    loop {
        let (mut s, _) = l.accept().await?;
        let mut c = [0u8; proto::COOKIE_SIZE];
        if s.read_exact(&mut c).await.is_ok() && c[..] == cookie[..] {
            return Ok(s);
        }
        let _ = s.write_all(&[proto::ACCESS_DENIED]).await;
    }
}
