//! The socket API for applications that run in a jail: TCP listeners and
//! streams, UDP and raw sockets that feel like `std::net` and tokio, with async
//! methods, `futures::io::AsyncRead`/`AsyncWrite` (and tokio's, with the
//! `tokio` feature). A socket is born in the vnet of the process that
//! makes it ([`Proc`](crate::Proc)) — its jail's — and lives there.
//!
//! ```
//! use vimage::socket::{TcpListener, TcpStream};
//! use vimage::{Host, Jid};
//!
//! let host = Host::new(Default::default());
//! let server = host.proc(Jid::HOST, vimage::Stdio::inherit());
//! let client = server.clone();
//! let srv = host.tasks().spawn(Box::pin(async move {
//!     let l = TcpListener::bind(&server, "127.0.0.1:7".parse().unwrap()).unwrap();
//!     let (mut s, _) = l.accept().await.unwrap();
//!     let mut buf = [0u8; 5];
//!     s.read_exact(&mut buf).await.unwrap();
//!     s.write_all(&buf).await.unwrap();
//!     0
//! }));
//! let cli = host.tasks().spawn(Box::pin(async move {
//!     let mut s = TcpStream::connect(&client, "127.0.0.1:7".parse().unwrap()).await.unwrap();
//!     s.write_all(b"hello").await.unwrap();
//!     let mut buf = [0u8; 5];
//!     s.read_exact(&mut buf).await.unwrap();
//!     (&buf == b"hello") as i32
//! }));
//! assert_eq!(host.wait(cli), Ok(1));
//! assert_eq!(host.wait(srv), Ok(0));
//! ```

mod raw;
mod route;
mod tcp;
mod udp;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

pub use raw::RawSocket;
pub use route::RouteSocket;
pub use tcp::{TcpListener, TcpPeek, TcpStream};
pub use udp::UdpSocket;

use crate::kern::Kernel;
use crate::netinet::in_pcb::{Errno, Owner};
use crate::netinet::tcp_var::SoError;
use crate::vnet::{Vnet, VnetId};

/// Socket options set between `socket` and `bind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindOpts {
    /// `SO_REUSEADDR`.
    pub reuseaddr: bool,
    /// `IPV6_V6ONLY` of an IPv6 socket: `Some(false)` takes IPv4 too,
    /// seen as IPv4-mapped addresses; `None` is `net.inet6.ip6.v6only`.
    pub v6only: Option<bool>,
}

impl BindOpts {
    pub fn reuseaddr() -> BindOpts {
        BindOpts {
            reuseaddr: true,
            ..BindOpts::default()
        }
    }

    fn set_v6only(self, vf: &mut crate::netinet::in_pcb::Vflag) {
        if let Some(on) = self.v6only
            && vf.inet6
        {
            vf.v6only = on;
        }
    }
}

/// What every socket holds: the kernel and the vnet it lives in.
#[derive(Clone)]
pub(crate) struct SockCtx {
    k: Rc<RefCell<Kernel>>,
    vnet: VnetId,
    /// The process that made it.
    proc: crate::Proc,
    /// Its jail's addresses (`ip4.addr`), `None` for any.
    ip4: Option<Rc<[u32]>>,
}

impl SockCtx {
    pub(crate) fn of(p: &crate::Proc) -> io::Result<SockCtx> {
        let k = p.kernel_rc();
        let (vnet, ip4) = {
            let k = k.borrow();
            let vnet = k.prison_vnet(p.jid).map_err(|e| io::Error::other(e.to_string()))?;
            (vnet, k.prison_ip4(p.jid))
        };
        Ok(SockCtx {
            k,
            vnet,
            proc: p.clone(),
            ip4,
        })
    }

    /// The process, with a new descriptor for a socket.
    pub(crate) fn owner(&self) -> Owner {
        Owner {
            pid: self.proc.pid,
            comm: self.proc.comm.to_string(),
            fd: self.proc.fdalloc(),
            ip4: self.ip4.clone(),
        }
    }

    /// A system call in the socket's vnet.
    pub(crate) fn sys<R>(&self, f: impl FnOnce(&mut Kernel, &mut Vnet) -> R) -> io::Result<R> {
        let mut k = self
            .k
            .try_borrow_mut()
            .map_err(|_| io::Error::other("socket used from inside the kernel"))?;
        k.with_vnet(self.vnet, f)
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "Network is down"))
    }

    /// Like `sys`, for a drop: never fails loudly.
    pub(crate) fn sys_quiet(&self, f: impl FnOnce(&mut Kernel, &mut Vnet)) {
        if let Ok(mut k) = self.k.try_borrow_mut() {
            let _ = k.with_vnet(self.vnet, f);
        }
    }
}

/// An errno as an `io::Error` with FreeBSD's text.
pub(crate) fn to_io(e: Errno) -> io::Error {
    use io::ErrorKind as K;
    let kind = match e {
        Errno::Again => K::WouldBlock,
        Errno::AddrInUse => K::AddrInUse,
        Errno::AddrNotAvail => K::AddrNotAvailable,
        Errno::IsConn | Errno::Inval => K::InvalidInput,
        Errno::NotConn => K::NotConnected,
        Errno::Pipe => K::BrokenPipe,
        Errno::NetUnreach => K::NetworkUnreachable,
        Errno::MsgSize => K::InvalidInput,
        Errno::Access => K::PermissionDenied,
        Errno::InProgress => K::WouldBlock,
        Errno::NoBufs => K::OutOfMemory,
        Errno::AfNoSupport => K::Unsupported,
        Errno::So(SoError::ConnRefused) => K::ConnectionRefused,
        Errno::So(SoError::ConnReset) => K::ConnectionReset,
        Errno::So(SoError::ConnAborted) => K::ConnectionAborted,
        Errno::So(SoError::TimedOut) => K::TimedOut,
        Errno::So(SoError::HostUnreach | SoError::HostDown) => K::HostUnreachable,
        Errno::So(SoError::NetUnreach) => K::NetworkUnreachable,
    };
    io::Error::new(kind, e.to_string())
}
