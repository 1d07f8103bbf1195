//! The client (`iperf_client_api.c`): connect and send the cookie, send
//! the parameters, open the streams when told, run the test, exchange
//! results, print the summary.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::data::{Limits, Sock, Stop, Stream, Test};
use super::proto::{self, Error, Params, json_read, json_write, recv_state, send_state};
use super::{Iperf3Args, Role, connected_line, interval_lines, results_json, summary, take_results};
use crate::kern::proc::Proc;
use crate::socket::{TcpStream, UdpSocket};

fn addr(p: &Proc, a: &Iperf3Args, host: &str) -> Result<IpAddr, Error> {
    a.resolve(p, host).ok_or_else(|| {
        Error::Msg(format!(
            "unable to resolve host: {host}: hostname nor servname provided, or not known"
        ))
    })
}

/// Stream ids as `iperf_add_stream` gives them: 1, 3, 4, 5, ...
pub fn stream_id(i: usize) -> u32 {
    if i == 0 { 1 } else { i as u32 + 2 }
}

pub async fn run(
    p: &Proc,
    a: &Iperf3Args,
    host: &str,
    mut params: Params,
    interval: Option<Duration>,
) -> Result<(), Error> {
    let dst = SocketAddr::new(addr(p, a, host)?, a.port);
    let from = match &a.bind {
        Some(b) => Some(SocketAddr::new(addr(p, a, b)?, 0)),
        None => None,
    };
    let mut ctrl = TcpStream::connect_from(p, from, dst).await.map_err(|e| {
        Error::Msg(format!(
            "unable to connect to server - server may have stopped running or use a different port, firewall issue, etc.: {e}"
        ))
    })?;
    let _ = ctrl.set_nodelay(true);
    let out = |s: &str| p.stdout.write_bytes(s.as_bytes());
    out(&format!("Connecting to host {host}, port {}\n", a.port));
    if params.reverse {
        out(&format!("Reverse mode, remote host {host} is sending\n"));
    }
    let cookie = proto::make_cookie(|| p.vnet(|_, v| v.random()).unwrap_or(7));
    ctrl.write_all(&cookie).await?;
    let mut streams: Vec<Stream> = Vec::new();
    loop {
        match recv_state(&mut ctrl).await? {
            proto::PARAM_EXCHANGE => {
                if params.len == 0 {
                    // UDP: the path's MSS, as iperf3 takes TCP_MAXSEG.
                    params.len = if params.udp {
                        ctrl.mss().map_or(1460, |m| m as usize)
                    } else {
                        proto::TCP_BLKSIZE
                    };
                }
                json_write(&mut ctrl, &params.to_json()).await?;
            }
            proto::CREATE_STREAMS => {
                for i in 0..params.parallel as usize {
                    let s = open_stream(p, &params, from, dst, &cookie, stream_id(i)).await?;
                    out(&connected_line(&s));
                    streams.push(s);
                }
            }
            proto::TEST_START => {}
            proto::TEST_RUNNING => break,
            proto::ACCESS_DENIED => return Err(Error::Ctrl("the server is busy running a test. try again later")),
            proto::SERVER_ERROR => {
                let mut b = [0u8; 8];
                ctrl.read_exact(&mut b).await?;
                let i_errno = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                return Err(Error::Msg(format!("the server reported error {i_errno}")));
            }
            proto::SERVER_TERMINATE => return Err(Error::Ctrl("the server has terminated")),
            _ => return Err(Error::Ctrl("received an unknown control message")),
        }
    }
    let start = p.now();
    let mut t = Test::new(streams, start, interval, params.bandwidth, params.len);
    let limits = Limits {
        end: (params.time > 0).then(|| start.saturating_add(Duration::from_secs(params.time))),
        bytes: params.bytes,
        blocks: params.blocks,
    };
    let mut first = true;
    let mut last = start;
    let udp = params.udp;
    let stop = t
        .run(p, &mut ctrl, &limits, |t, from, to| {
            out(&interval_lines(t, from, to, udp, &mut first));
            last = to;
        })
        .await;
    match stop {
        Stop::Done => {}
        Stop::Ctrl(proto::SERVER_TERMINATE) => return Err(Error::Ctrl("the server has terminated")),
        Stop::Ctrl(_) => return Err(Error::Ctrl("received an unknown control message")),
        Stop::CtrlClosed => return Err(Error::Ctrl("control socket has closed unexpectedly")),
        Stop::Failed(m) => return Err(Error::Ctrl(m)),
    }
    let end = p.now();
    if t.tail_due(last, end) {
        out(&interval_lines(&mut t, last, end, udp, &mut first));
    }
    t.sending = false;
    t.counting = false;
    send_state(&mut ctrl, proto::TEST_END).await?;
    // Drain what still comes until the server asks for results.
    let idle = Limits {
        end: None,
        bytes: 0,
        blocks: 0,
    };
    let peer_has_retr = loop {
        match t.run(p, &mut ctrl, &idle, |_, _, _| {}).await {
            Stop::Ctrl(proto::EXCHANGE_RESULTS) => {
                json_write(&mut ctrl, &results_json(&t, end, udp)).await?;
                let v = json_read(&mut ctrl, "unable to receive results").await?;
                break take_results(&mut t, &v)? != 0;
            }
            Stop::Ctrl(proto::SERVER_TERMINATE) => return Err(Error::Ctrl("the server has terminated")),
            Stop::Ctrl(_) => return Err(Error::Ctrl("received an unknown control message")),
            Stop::CtrlClosed => return Err(Error::Ctrl("control socket has closed unexpectedly")),
            Stop::Failed(_) | Stop::Done => {}
        }
    };
    match recv_state(&mut ctrl).await? {
        proto::DISPLAY_RESULTS => {}
        _ => return Err(Error::Ctrl("received an unknown control message")),
    }
    for s in &t.streams {
        s.close();
    }
    out(&summary(&t, end, udp, Role::Client, peer_has_retr));
    send_state(&mut ctrl, proto::IPERF_DONE).await?;
    out("\niperf Done.\n");
    Ok(())
}

/// Open stream `id`: TCP connects and sends the cookie; UDP sends the
/// connect message and waits (30 s) for the reply.
async fn open_stream(
    p: &Proc,
    params: &Params,
    from: Option<SocketAddr>,
    dst: SocketAddr,
    cookie: &[u8],
    id: u32,
) -> Result<Stream, Error> {
    let sender = !params.reverse;
    if !params.udp {
        let mut s = TcpStream::connect_from(p, from, dst)
            .await
            .map_err(|_| Error::Ctrl("unable to connect stream"))?;
        if params.nodelay {
            let _ = s.set_nodelay(true);
        }
        if let Some(w) = params.window {
            let _ = s.set_send_buffer_size(w);
            let _ = s.set_recv_buffer_size(w);
        }
        if let Some(c) = &params.congestion {
            s.set_congestion(c).map_err(|_| {
                Error::Ctrl(
                    "unable to set TCP_CONGESTION: Supplied congestion control algorithm not supported on this host",
                )
            })?;
        }
        s.write_all(cookie).await?;
        let fd = s.fd();
        return Ok(Stream::new(id, fd, Sock::Tcp(s), sender));
    }
    let any = match dst {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    };
    let s = UdpSocket::bind(p, from.unwrap_or(any)).map_err(|_| Error::Ctrl("unable to connect stream"))?;
    s.connect(dst).map_err(|_| Error::Ctrl("unable to connect stream"))?;
    if let Some(w) = params.window {
        let _ = s.set_recv_buffer_size(w);
    }
    s.try_send(&proto::UDP_CONNECT_MSG)?;
    let mut b = [0u8; 65536];
    let reply = p
        .timeout(Some(Duration::from_secs(30)), async {
            loop {
                match s.recv(&mut b).await {
                    Ok(4) if b[..4] == proto::UDP_CONNECT_REPLY || b[..4] == 987_654_321u32.to_le_bytes() => {
                        return true;
                    }
                    Ok(_) => continue,
                    Err(_) => return false,
                }
            }
        })
        .await;
    if reply != Some(true) {
        return Err(Error::Ctrl("unable to read from stream socket"));
    }
    let fd = s.fd();
    Ok(Stream::new(id, fd, Sock::Udp(s), sender))
}
