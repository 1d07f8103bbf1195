//! The broker: what a program's shim asks, answered in the jail's vnet.
//! An engine task reads the control socket for new channels (a thread of
//! a process says HELLO) and commands (vimage's own, run from a script);
//! a task per channel reads its requests and answers each at once or,
//! for a connect under way, when the handshake ends. All are
//! [`HostFd`]s the engine waits on: no thread stands between a program
//! and its vnet. Sockets are known by the inode of the program's end of
//! their pair.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll};

use nix::errno::Errno;
use nix::libc;

use super::proto::*;
use super::{Notify, dgram, ifaddrs, msg, relay, tcp_info};
use crate::daemon::server::{Jobs, Msg, connection};
use crate::kern::poller::HostFd;
use crate::kern::proc::Proc;
use crate::socket::{BindOpts, TcpListener, TcpPeek, TcpStream, UdpSocket};

/// A channel: a thread of a program asks on it, one request at a time,
/// and waits for each answer.
type Chan = Rc<HostFd<OwnedFd>>;

/// Where an answer goes: the channel its request came on.
#[derive(Clone)]
struct Reply(Chan);

impl Reply {
    fn send(&self, a: Answer, fd: Option<OwnedFd>) {
        let ch = self.0.get_ref();
        // The program waits for this answer with nothing else queued, so
        // its pair has room; were it ever full, wait (a second at most)
        // rather than lose the answer.
        for _ in 0..100 {
            match msg::send(ch.as_raw_fd(), &a.encode(), fd.as_ref()) {
                Err(Errno::EAGAIN) => {
                    let mut p = [nix::poll::PollFd::new(ch.as_fd(), nix::poll::PollFlags::POLLOUT)];
                    let _ = nix::poll::poll(&mut p, 10u8);
                }
                _ => return,
            }
        }
    }
}

/// Read one message from `fd` without blocking: (bytes, descriptor);
/// `Ready(None)` at its end (the other side closed) or on an error.
fn poll_msg(fd: &HostFd<OwnedFd>, cx: &mut Context<'_>, max: usize) -> Poll<Option<(Vec<u8>, Option<OwnedFd>)>> {
    match fd.poll_read(cx, |f| Ok(msg::recv(f.as_raw_fd(), max)?)) {
        Poll::Ready(Ok((b, fd))) if !b.is_empty() => Poll::Ready(Some((b, fd))),
        Poll::Ready(_) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    }
}

/// What a socket is doing.
enum St {
    Fresh,
    /// Connecting; these wait for the outcome (a blocking connect, or
    /// SO_ERROR).
    Connecting(Vec<Waiter>),
    Connected {
        local: SocketAddr,
        peer: SocketAddr,
        /// The connection, for TCP_INFO (the relay owns it).
        tcp: Box<TcpPeek>,
    },
    /// The connect failed with this errno, not yet read by SO_ERROR.
    Failed(i32),
    Listening {
        local: SocketAddr,
    },
}

/// Someone waiting for a connect: the answer for errno `e`.
struct Waiter {
    reply: Reply,
    how: Wait,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// A blocking connect: the errno.
    Connect,
    /// connect(2) again while one is under way: EISCONN once done.
    Again,
    /// SO_ERROR: the errno as its value.
    SoError,
}

impl Waiter {
    fn answer(self, e: i32) {
        let a = match self.how {
            Wait::SoError => int_answer(e),
            Wait::Again if e == 0 => Answer::err(libc::EISCONN),
            _ => Answer::err(e),
        };
        self.reply.send(a, None);
    }
}

/// A program's socket.
struct HSock {
    family: i32,
    /// Our end of its pair, until it connects or listens.
    far: Option<UnixStream>,
    bound: Option<SocketAddr>,
    reuseaddr: bool,
    v6only: Option<bool>,
    nodelay: bool,
    keepalive: bool,
    st: St,
    /// A UDP socket's vnet socket (relayed from its creation).
    udp: Option<Rc<UdpSocket>>,
}

type Socks = Rc<RefCell<HashMap<u64, HSock>>>;

/// Serve control socket `ctl` for the programs `p` runs (`theirs`: the
/// inode of the programs' end).
pub fn start(p: Proc, ctl: OwnedFd, theirs: u64) {
    let ctl = match HostFd::new(&p.kernel().poller(), ctl) {
        Ok(c) => c,
        Err(e) => {
            p.kernel().log(format!("{}[{}]: no vnet sockets: {e}", p.comm, p.pid));
            return;
        }
    };
    // Commands run from the program come over connections of their own,
    // each read by a thread (the daemon's protocol, as a client's).
    let notify = Notify::new(&p);
    let commands = Arc::new(AtomicUsize::new(0));
    let (cmd_tx, cmd_rx) = mpsc::channel::<Msg>();
    let socks: Socks = Rc::new(RefCell::new(HashMap::new()));
    let mut cmds = Jobs::default();
    let mut cwds: HashMap<u64, std::path::PathBuf> = HashMap::new();
    let (mut conn, mut ctl_open) = (0u64, true);
    let p2 = p.clone();
    p.spawn(Box::pin(async move {
        let mut reaper = Reaper { theirs, done: false };
        std::future::poll_fn(|cx| {
            notify.register(cx.waker());
            // Read before taking messages: a thread ends after its last.
            let running = commands.load(Ordering::Relaxed);
            while ctl_open {
                let Poll::Ready(m) = poll_msg(&ctl, cx, MSG_MAX) else {
                    break;
                };
                // None: every holder of the programs' end has closed it.
                let Some((b, fd)) = m else {
                    ctl_open = false;
                    break;
                };
                let (Some(req), Some(fd)) = (Request::decode(&b), fd) else {
                    continue;
                };
                match req.op {
                    OP_HELLO => channel(&p2, &socks, fd),
                    OP_COMMAND => {
                        conn += 1;
                        // It runs where the program calling it stands.
                        if let Ok(cwd) = std::fs::read_link(format!("/proc/{}/cwd", req.a)) {
                            cwds.insert(conn, cwd);
                        }
                        commands.fetch_add(1, Ordering::Relaxed);
                        let (tx, n, c, id) = (cmd_tx.clone(), notify.clone(), commands.clone(), conn);
                        std::thread::spawn(move || {
                            connection(id, UnixStream::from(fd), tx, || n.wake());
                            c.fetch_sub(1, Ordering::Relaxed);
                            n.wake();
                        });
                    }
                    _ => {}
                }
            }
            while let Ok(m) = cmd_rx.try_recv() {
                let cwd = match &m {
                    Msg::Run { conn, .. } => cwds.remove(conn),
                    _ => None,
                };
                let proc = |io| {
                    let mut q = p2.exec("vimage").with_stdio(io);
                    q.intr = Rc::default();
                    q.background = false;
                    if let Some(c) = cwd {
                        q.cwd = Some(c.into());
                    }
                    q
                };
                if let Some(m) = cmds.take(p2.tasks(), m, proc) {
                    Jobs::refuse(m, "not from inside a jail");
                }
            }
            if !ctl_open && running == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        reaper.done = true;
        0
    }));
}

/// A channel's task: a request, its answer, the next.
fn channel(p: &Proc, socks: &Socks, ch: OwnedFd) {
    let Ok(ch) = HostFd::new(&p.kernel().poller(), ch) else {
        return;
    };
    let reply = Reply(Rc::new(ch));
    let (p2, socks) = (p.clone(), socks.clone());
    p.spawn(Box::pin(async move {
        std::future::poll_fn(|cx| {
            loop {
                let Poll::Ready(m) = poll_msg(&reply.0, cx, MSG_MAX) else {
                    return Poll::Pending;
                };
                let Some((b, fd)) = m else { return Poll::Ready(()) };
                let Some(req) = Request::decode(&b) else {
                    reply.send(Answer::err(libc::EPROTO), None);
                    continue;
                };
                handle(&p2, &socks, req, fd, reply.clone());
            }
        })
        .await;
        0
    }));
}

/// Killed (`jail -r`, `Tasks::kill_all`) while programs still hold the control socket,
/// the broker kills them: daemons that left their process group
/// (`redis-server --daemonize yes`, nginx's master and workers) and their
/// children, every host process with `theirs` open — and so none keeps
/// a vnet socket of a jail that is gone.
struct Reaper {
    theirs: u64,
    done: bool,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.done || self.theirs == 0 {
            return;
        }
        let want = std::path::PathBuf::from(format!("socket:[{}]", self.theirs));
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else { return };
        for e in procs.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
                continue;
            };
            let holds = fds
                .flatten()
                .any(|f| std::fs::read_link(f.path()).is_ok_and(|l| l == want));
            if holds && pid != me {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn int_answer(v: i32) -> Answer {
    Answer {
        data: v.to_ne_bytes().to_vec(),
        ..Answer::default()
    }
}

/// The errno for an error of the socket API.
pub(super) fn errno_of(e: &std::io::Error) -> i32 {
    use std::io::ErrorKind as K;
    if let Some(n) = e.raw_os_error() {
        return n;
    }
    match e.kind() {
        K::ConnectionRefused => libc::ECONNREFUSED,
        K::ConnectionReset => libc::ECONNRESET,
        K::ConnectionAborted => libc::ECONNABORTED,
        K::TimedOut => libc::ETIMEDOUT,
        K::AddrInUse => libc::EADDRINUSE,
        K::AddrNotAvailable => libc::EADDRNOTAVAIL,
        K::NetworkUnreachable => libc::ENETUNREACH,
        K::HostUnreachable => libc::EHOSTUNREACH,
        K::NetworkDown => libc::ENETDOWN,
        K::NotConnected => libc::ENOTCONN,
        K::PermissionDenied => libc::EACCES,
        K::InvalidInput => libc::EINVAL,
        K::BrokenPipe => libc::EPIPE,
        K::WouldBlock => libc::EAGAIN,
        _ => libc::EIO,
    }
}

/// An address as vimage takes it: an IPv4-mapped one as IPv4 (what a
/// dual-stack socket names; [`as_family`] is the way back).
pub(super) fn unmapped(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// An address as a socket of `family` names it: IPv4 as mapped on an
/// AF_INET6 socket.
fn as_family(family: i32, a: SocketAddr) -> SocketAddr {
    match (family, a) {
        (libc::AF_INET6, SocketAddr::V4(v)) => SocketAddr::new(IpAddr::V6(v.ip().to_ipv6_mapped()), v.port()),
        _ => a,
    }
}

fn any(family: i32) -> SocketAddr {
    if family == libc::AF_INET6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }
}

/// The inode of a descriptor.
fn ino(fd: &impl std::os::fd::AsFd) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|s| s.st_ino)
}

/// A request `req` from a channel (`fd` riding along), its answer to `reply`.
fn handle(p: &Proc, socks: &Socks, mut req: Request, fd: Option<OwnedFd>, reply: Reply) {
    req.addr = req.addr.map(unmapped);
    let answer = |a: Answer| {
        reply.send(a, None);
    };
    if req.op == OP_SOCKET {
        let inet = req.a == libc::AF_INET || req.a == libc::AF_INET6;
        let (tcp, udp) = (req.b == libc::SOCK_STREAM, req.b == libc::SOCK_DGRAM);
        let Some(far) = fd.filter(|_| inet && (tcp || udp) && req.ino != 0) else {
            return answer(Answer::err(libc::EPROTONOSUPPORT));
        };
        let mut hs = HSock {
            family: req.a,
            far: None,
            bound: None,
            reuseaddr: false,
            v6only: None,
            nodelay: false,
            keepalive: false,
            st: St::Fresh,
            udp: None,
        };
        if udp {
            // Relayed from now on: it may send before it binds.
            let u = match UdpSocket::open(p, any(req.a).ip()) {
                Ok(u) => Rc::new(u),
                Err(e) => return answer(Answer::err(errno_of(&e))),
            };
            let (s2, ino) = (socks.clone(), req.ino);
            dgram::relay(p, u.clone(), far, move || {
                s2.borrow_mut().remove(&ino);
            });
            hs.udp = Some(u);
        } else {
            hs.far = Some(UnixStream::from(far));
        }
        socks.borrow_mut().insert(req.ino, hs);
        return answer(Answer::default());
    }
    match req.op {
        OP_RESOLVE => return answer(resolve(p, &String::from_utf8_lossy(&req.data))),
        OP_LOG => {
            let what = String::from_utf8_lossy(&req.data);
            p.kernel()
                .log(format!("{}[{}]: {what} (errno {})", p.comm, p.pid, req.a));
            return answer(Answer::default());
        }
        OP_IFADDRS => {
            return answer(Answer {
                data: put_ifs(&ifaddrs::ifaddrs(p)),
                ..Answer::default()
            });
        }
        OP_HOSTNAME => {
            let name = p.kernel().prison_hostname(p.jid);
            return answer(Answer {
                data: name.into_bytes(),
                ..Answer::default()
            });
        }
        _ => {}
    }
    let mut map = socks.borrow_mut();
    let Some(s) = map.get_mut(&req.ino) else {
        answer(Answer::err(libc::ENOTSOCK));
        return;
    };
    if let Some(u) = s.udp.clone() {
        return answer(udp_op(s, &u, &req));
    }
    match req.op {
        OP_IS => answer(Answer {
            val: libc::SOCK_STREAM,
            ..Answer::default()
        }),
        OP_BIND => match (&s.st, req.addr) {
            (St::Fresh, Some(a)) if s.bound.is_none() => {
                s.bound = Some(a);
                answer(Answer::default());
            }
            (_, None) => answer(Answer::err(libc::EAFNOSUPPORT)),
            _ => answer(Answer::err(libc::EINVAL)),
        },
        OP_SOCKNAME => {
            let a = match &s.st {
                St::Connected { local, .. } | St::Listening { local } => *local,
                _ => s.bound.unwrap_or_else(|| any(s.family)),
            };
            answer(Answer {
                addr: Some(as_family(s.family, a)),
                ..Answer::default()
            });
        }
        OP_PEERNAME => match &s.st {
            St::Connected { peer, .. } => answer(Answer {
                addr: Some(as_family(s.family, *peer)),
                ..Answer::default()
            }),
            _ => answer(Answer::err(libc::ENOTCONN)),
        },
        OP_SETOPT => {
            let v = req
                .data
                .get(..4)
                .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            match (req.a, req.b) {
                (libc::SOL_SOCKET, libc::SO_REUSEADDR) => s.reuseaddr = v != 0,
                (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => s.keepalive = v != 0,
                (libc::IPPROTO_TCP, libc::TCP_NODELAY) => s.nodelay = v != 0,
                (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => s.v6only = Some(v != 0),
                // Accepted, with nothing here to set (SO_REUSEPORT,
                // buffer sizes, TCP_QUICKACK, ...).
                _ => {}
            }
            answer(Answer::default());
        }
        OP_GETOPT => getopt(s, &req, reply),
        OP_CONNECT => connect(p, socks.clone(), s, req, reply),
        OP_LISTEN => {
            drop(map);
            listen(p, socks, req, reply);
        }
        _ => answer(Answer::err(libc::EOPNOTSUPP)),
    }
}

/// What a UDP socket is asked: all answered at once.
fn udp_op(s: &mut HSock, u: &UdpSocket, req: &Request) -> Answer {
    let done = |r: std::io::Result<()>| match r {
        Ok(()) => Answer::default(),
        Err(e) => Answer::err(errno_of(&e)),
    };
    let name = |r: std::io::Result<SocketAddr>| match r {
        Ok(a) => Answer {
            addr: Some(as_family(s.family, a)),
            ..Answer::default()
        },
        Err(e) => Answer::err(errno_of(&e)),
    };
    match req.op {
        OP_IS => Answer {
            val: libc::SOCK_DGRAM,
            ..Answer::default()
        },
        OP_BIND => match req.addr {
            Some(a) => {
                let opts = BindOpts {
                    reuseaddr: s.reuseaddr,
                    v6only: if s.family == libc::AF_INET6 { s.v6only } else { None },
                };
                done(u.bind_to(a, opts))
            }
            None => Answer::err(libc::EAFNOSUPPORT),
        },
        OP_CONNECT => match req.addr {
            Some(a) => done(u.connect(a)),
            None => done(u.disconnect()),
        },
        OP_SOCKNAME => name(u.local_addr()),
        OP_PEERNAME => name(u.peer_addr()),
        OP_SETOPT => {
            let v = req
                .data
                .get(..4)
                .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            let r = match (req.a, req.b) {
                (libc::SOL_SOCKET, libc::SO_REUSEADDR | libc::SO_REUSEPORT) => {
                    s.reuseaddr = v != 0;
                    Ok(())
                }
                (libc::SOL_SOCKET, libc::SO_BROADCAST) => u.set_broadcast(v != 0),
                (libc::SOL_SOCKET, libc::SO_RCVBUF) => u.set_recv_buffer_size(v.max(1) as usize),
                (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => {
                    u.set_ttl(v.clamp(1, 255) as u8)
                }
                (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => {
                    s.v6only = Some(v != 0);
                    Ok(())
                }
                (libc::IPPROTO_IP, 32..=36) | (libc::IPPROTO_IPV6, 17..=21) => udp_mcast_opt(u, req),
                // Accepted, with nothing here to set.
                _ => Ok(()),
            };
            done(r)
        }
        OP_GETOPT => {
            let v = match (req.a, req.b) {
                (libc::SOL_SOCKET, libc::SO_ERROR) => 0,
                (libc::SOL_SOCKET, libc::SO_TYPE) => libc::SOCK_DGRAM,
                (libc::SOL_SOCKET, libc::SO_DOMAIN) => s.family,
                (libc::SOL_SOCKET, libc::SO_PROTOCOL) => libc::IPPROTO_UDP,
                (libc::SOL_SOCKET, libc::SO_REUSEADDR) => i32::from(s.reuseaddr),
                (libc::SOL_SOCKET, libc::SO_SNDBUF | libc::SO_RCVBUF) => 212_992,
                (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => i32::from(s.v6only.unwrap_or(true)),
                (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) => {
                    u.multicast_options().map_or(1, |m| i32::from(m.ttl()))
                }
                (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP) | (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP) => {
                    u.multicast_options().map_or(1, |m| i32::from(!m.noloop))
                }
                (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) => {
                    u.multicast_options().map_or(0, |m| m.ifindex.unwrap_or(0) as i32)
                }
                _ => return Answer::err(libc::ENOPROTOOPT),
            };
            int_answer(v)
        }
        _ => Answer::err(libc::EOPNOTSUPP),
    }
}

/// The multicast options of ip(4) and ip6(4) (Linux's numbers: IP_
/// MULTICAST_IF 32 to IP_DROP_MEMBERSHIP 36, IPV6_MULTICAST_IF 17 to
/// IPV6_DROP_MEMBERSHIP 21), as Linux's libc lays out
/// their arguments: `ip_mreq` or `ip_mreqn`, `ipv6_mreq`, an int or a
/// byte for a TTL or a loop flag.
fn udp_mcast_opt(u: &UdpSocket, req: &Request) -> std::io::Result<()> {
    let d = &req.data[..];
    let inval = || std::io::Error::from_raw_os_error(libc::EINVAL);
    let u32_at = |i: usize| d.get(i..i + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    let v4_at = |i: usize| d.get(i..i + 4).map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
    // An int, or a single byte (IP_MULTICAST_TTL and _LOOP allow both).
    let int = match d.len() {
        1 => i32::from(d[0]),
        _ => u32_at(0).ok_or_else(inval)? as i32,
    };
    match (req.a, req.b) {
        (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP) => {
            let join = req.b == libc::IP_ADD_MEMBERSHIP;
            let g = v4_at(0).ok_or_else(inval)?;
            match (u32_at(8), v4_at(4)) {
                (Some(index), _) if index != 0 => {
                    if join {
                        u.join_multicast(IpAddr::V4(g), index)
                    } else {
                        u.leave_multicast(IpAddr::V4(g), index)
                    }
                }
                (_, Some(a)) if join => u.join_multicast_v4(g, a),
                (_, Some(a)) => u.leave_multicast_v4(g, a),
                _ => Err(inval()),
            }
        }
        (libc::IPPROTO_IP, libc::IP_MULTICAST_IF) => match (u32_at(8), v4_at(4)) {
            (Some(index), _) if index != 0 => u.set_multicast_if(index),
            (_, Some(a)) => u.set_multicast_if_v4(a),
            _ => u.set_multicast_if_v4(v4_at(0).ok_or_else(inval)?),
        },
        (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL) => u.set_multicast_ttl(int.clamp(0, 255) as u8),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) => {
            u.set_multicast_ttl(if int < 0 { 1 } else { int.min(255) as u8 })
        }
        (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP) | (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP) => {
            u.set_multicast_loop(int != 0)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) => u.set_multicast_if(int as u32),
        (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP) => {
            let g: [u8; 16] = d.get(..16).and_then(|b| b.try_into().ok()).ok_or_else(inval)?;
            let index = u32_at(16).ok_or_else(inval)?;
            let g = IpAddr::V6(g.into());
            if req.b == libc::IPV6_ADD_MEMBERSHIP {
                u.join_multicast(g, index)
            } else {
                u.leave_multicast(g, index)
            }
        }
        _ => Ok(()),
    }
}

/// A lab node's addresses: its IPv4 one, then its IPv6 one.
fn resolve(p: &Proc, name: &str) -> Answer {
    let k = p.kernel();
    let v4 = k.hosts.get(name).map(|&a| IpAddr::V4(Ipv4Addr::from(a)));
    let v6 = k.hosts6.get(name).map(|&a| IpAddr::V6(a));
    let mut data = Vec::new();
    for a in v4.into_iter().chain(v6) {
        put_addr(&mut data, Some(SocketAddr::new(a, 0)));
    }
    if data.is_empty() {
        return Answer::err(libc::ENOENT);
    }
    Answer {
        data,
        ..Answer::default()
    }
}

fn getopt(s: &mut HSock, req: &Request, reply: Reply) {
    let v = match (req.a, req.b) {
        (libc::SOL_SOCKET, libc::SO_ERROR) => match std::mem::replace(&mut s.st, St::Fresh) {
            St::Connecting(mut w) => {
                w.push(Waiter {
                    reply,
                    how: Wait::SoError,
                });
                s.st = St::Connecting(w);
                return;
            }
            St::Failed(e) => e,
            st => {
                s.st = st;
                0
            }
        },
        (libc::SOL_SOCKET, libc::SO_TYPE) => libc::SOCK_STREAM,
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => s.family,
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => libc::IPPROTO_TCP,
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => i32::from(matches!(s.st, St::Listening { .. })),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => i32::from(s.reuseaddr),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => i32::from(s.keepalive),
        (libc::SOL_SOCKET, libc::SO_SNDBUF | libc::SO_RCVBUF) => 65536,
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => i32::from(s.nodelay),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => 1460,
        (libc::IPPROTO_TCP, libc::TCP_INFO) => {
            let a = match &s.st {
                St::Connected { tcp, .. } => match tcp.with(tcp_info::tcp_info) {
                    Ok(data) => Answer {
                        data,
                        ..Answer::default()
                    },
                    Err(e) => Answer::err(errno_of(&e)),
                },
                _ => Answer {
                    data: vec![0; tcp_info::TCP_INFO_LEN],
                    ..Answer::default()
                },
            };
            reply.send(a, None);
            return;
        }
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => i32::from(s.v6only.unwrap_or(true)),
        _ => {
            reply.send(Answer::err(libc::ENOPROTOOPT), None);
            return;
        }
    };
    reply.send(int_answer(v), None);
}

fn connect(p: &Proc, socks: Socks, s: &mut HSock, req: Request, reply: Reply) {
    let answer = |e: i32| {
        reply.send(Answer::err(e), None);
    };
    match s.st {
        St::Connected { .. } => return answer(libc::EISCONN),
        // The pair was writable at once, so a program that polled for
        // that and connects again (hiredis) waits here for the outcome
        // a kernel's socket would have made it wait for in poll.
        St::Connecting(ref mut w) => {
            w.push(Waiter {
                reply,
                how: Wait::Again,
            });
            return;
        }
        St::Listening { .. } => return answer(libc::EINVAL),
        St::Fresh | St::Failed(_) => {}
    }
    let (Some(to), Some(far)) = (req.addr, s.far.take()) else {
        return answer(libc::EINVAL);
    };
    let mut waiters = Vec::new();
    if req.a != 0 {
        answer(libc::EINPROGRESS);
    } else {
        waiters.push(Waiter {
            reply,
            how: Wait::Connect,
        });
    }
    s.st = St::Connecting(waiters);
    let (from, nodelay, keepalive, family) = (s.bound, s.nodelay, s.keepalive, s.family);
    let (ino, p2) = (req.ino, p.clone());
    p.spawn(Box::pin(async move {
        let (st, e) = match TcpStream::connect_from(&p2, from, to).await {
            Ok(c) => {
                let _ = c.set_nodelay(nodelay);
                let _ = c.set_keepalive(keepalive);
                let local = c.local_addr().unwrap_or_else(|_| any(family));
                let (s2, tcp) = (socks.clone(), Box::new(c.peek()));
                relay::relay(&p2, c, far, move || {
                    s2.borrow_mut().remove(&ino);
                });
                (St::Connected { local, peer: to, tcp }, 0)
            }
            Err(e) => (St::Failed(errno_of(&e)), errno_of(&e)),
        };
        let mut map = socks.borrow_mut();
        let Some(s) = map.get_mut(&ino) else { return 0 };
        if let St::Connecting(w) = std::mem::replace(&mut s.st, st) {
            for w in w {
                if w.how == Wait::SoError && e != 0 {
                    // SO_ERROR read the error: it is cleared.
                    s.st = St::Fresh;
                }
                w.answer(e);
            }
        }
        0
    }));
}

fn listen(p: &Proc, socks: &Socks, req: Request, reply: Reply) {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    let answer = |a: Answer, fd: Option<OwnedFd>| {
        reply.send(a, fd);
    };
    let mut map = socks.borrow_mut();
    let Some(s) = map.get_mut(&req.ino) else {
        return answer(Answer::err(libc::ENOTSOCK), None);
    };
    match s.st {
        St::Listening { .. } => return answer(Answer::default(), None),
        St::Fresh => {}
        _ => return answer(Answer::err(libc::EINVAL), None),
    }
    let at = s.bound.unwrap_or_else(|| any(s.family));
    let opts = BindOpts {
        reuseaddr: s.reuseaddr,
        v6only: if s.family == libc::AF_INET6 { s.v6only } else { None },
    };
    let l = match TcpListener::bind_with(p, at, req.a.clamp(1, 4096) as usize, opts) {
        Ok(l) => l,
        Err(e) => return answer(Answer::err(errno_of(&e)), None),
    };
    let Ok((app, far)) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC) else {
        return answer(Answer::err(libc::ENFILE), None);
    };
    let Some(new_ino) = ino(&app) else {
        return answer(Answer::err(libc::ENFILE), None);
    };
    let local = l.local_addr().unwrap_or(at);
    let Some(mut hs) = map.remove(&req.ino) else { return };
    hs.far = None;
    hs.st = St::Listening { local };
    let (family, nodelay, keepalive) = (hs.family, hs.nodelay, hs.keepalive);
    map.insert(new_ino, hs);
    drop(map);
    answer(Answer::default(), Some(app));
    accept_loop(p, socks.clone(), l, far, new_ino, family, nodelay, keepalive);
}

/// Accept connections on `l` for as long as the program holds its
/// listening end: each goes to it as a message on `far` with the new
/// socket's end and the peer's address.
#[allow(clippy::too_many_arguments)]
fn accept_loop(
    p: &Proc,
    socks: Socks,
    l: TcpListener,
    far: OwnedFd,
    lino: u64,
    family: i32,
    nodelay: bool,
    keepalive: bool,
) {
    let Ok(far) = HostFd::new(&p.kernel().poller(), far) else {
        socks.borrow_mut().remove(&lino);
        return;
    };
    // Connections accepted, waiting for room in the listening pair; while
    // some wait, the vnet's listen queue holds the next (its backlog).
    let mut out: VecDeque<(Vec<u8>, OwnedFd)> = VecDeque::new();
    const OUT_MAX: usize = 16;
    let p2 = p.clone();
    p.spawn(Box::pin(async move {
        let mut next = Box::pin(l.accept());
        std::future::poll_fn(|cx| {
            loop {
                // Nothing is ever sent this way: a read sees the program
                // close its end.
                if let Poll::Ready(None) = poll_msg(&far, cx, 16) {
                    return Poll::Ready(());
                }
                while let Some((m, fd)) = out.pop_front() {
                    match far.poll_write(cx, |f| Ok(msg::send(f.as_raw_fd(), &m, Some(&fd))?)) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(_)) => return Poll::Ready(()),
                        Poll::Pending => {
                            out.push_front((m, fd));
                            break;
                        }
                    }
                }
                if out.len() >= OUT_MAX {
                    return Poll::Pending;
                }
                let Poll::Ready(r) = next.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                next = Box::pin(l.accept());
                let Ok((c, peer)) = r else { continue };
                let Ok((app, ours)) = UnixStream::pair() else { continue };
                let Some(i) = ino(&app) else { continue };
                let _ = c.set_nodelay(nodelay);
                let _ = c.set_keepalive(keepalive);
                let local = c.local_addr().unwrap_or_else(|_| any(family));
                socks.borrow_mut().insert(
                    i,
                    HSock {
                        family,
                        far: None,
                        bound: None,
                        reuseaddr: false,
                        v6only: None,
                        nodelay,
                        keepalive,
                        st: St::Connected {
                            local,
                            peer,
                            tcp: Box::new(c.peek()),
                        },
                        udp: None,
                    },
                );
                let s2 = socks.clone();
                relay::relay(&p2, c, ours, move || {
                    s2.borrow_mut().remove(&i);
                });
                let mut m = Vec::new();
                put_addr(&mut m, Some(as_family(family, peer)));
                out.push_back((m, OwnedFd::from(app)));
            }
        })
        .await;
        socks.borrow_mut().remove(&lino);
        0
    }));
}
