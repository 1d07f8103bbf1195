//! TCP sockets for applications: [`TcpListener`] and [`TcpStream`].

use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{BindOpts, SockCtx, to_io};
use crate::Proc;
use crate::netinet::cc::Cc;
use crate::netinet::in_pcb::{Endpoint, Errno};
use crate::netinet::tcp_usrreq::{
    tcp_accept, tcp_attach, tcp_bind, tcp_connect, tcp_detach, tcp_listen, tcp_poll_connect, tcp_recv, tcp_send,
    tcp_set_keepalive, tcp_shutdown,
};
use crate::netinet::tcp_var::{TCP, TcbId};

fn ready<T>(r: io::Result<Result<T, Errno>>) -> Poll<io::Result<T>> {
    match r {
        Ok(Ok(x)) => Poll::Ready(Ok(x)),
        Ok(Err(Errno::Again)) => Poll::Pending,
        Ok(Err(e)) => Poll::Ready(Err(to_io(e))),
        Err(e) => Poll::Ready(Err(e)),
    }
}

/// A listening TCP socket.
pub struct TcpListener {
    ctx: SockCtx,
    id: TcbId,
}

impl TcpListener {
    /// `socket`, `bind` and `listen` (backlog 128) in the process's vnet.
    pub fn bind(p: &Proc, a: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_backlog(p, a, 128)
    }

    /// As [`TcpListener::bind`], with a listen backlog.
    pub fn bind_backlog(p: &Proc, a: SocketAddr, backlog: usize) -> io::Result<TcpListener> {
        Self::bind_with(p, a, backlog, BindOpts::default())
    }

    /// As [`TcpListener::bind`] with `SO_REUSEADDR`: the port may still be
    /// held by connections of an earlier server (in TIME_WAIT, say).
    pub fn bind_reuseaddr(p: &Proc, a: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with(p, a, 128, BindOpts::reuseaddr())
    }

    /// `socket`, the options, `bind` and `listen`.
    pub fn bind_with(p: &Proc, a: SocketAddr, backlog: usize, o: BindOpts) -> io::Result<TcpListener> {
        let ctx = SockCtx::of(p)?;
        let owner = ctx.owner();
        let id = ctx.sys(|_, v| {
            let id = tcp_attach(v, Some(owner), Endpoint::any_like(a.ip()));
            if let Some(tp) = v.builtin(TCP).get_mut(id) {
                tp.reuseaddr = o.reuseaddr;
                o.set_v6only(&mut tp.vflag);
            }
            let r = tcp_bind(v, id, a.into()).and_then(|_| tcp_listen(v, id, backlog));
            if r.is_err() {
                v.builtin(TCP).free(id);
            }
            r.map(|_| id)
        })?;
        Ok(TcpListener {
            ctx,
            id: id.map_err(to_io)?,
        })
    }

    /// The next connection, and who it is from.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// [`TcpListener::accept`] for a caller that polls many sockets.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let id = match ready(
            self.ctx
                .sys(|_, v| tcp_accept(v, self.id, cx.waker(), || self.ctx.owner())),
        ) {
            Poll::Ready(Ok(id)) => id,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let s = TcpStream {
            ctx: self.ctx.clone(),
            id,
        };
        Poll::Ready(s.peer_addr().map(|peer| (s, peer)))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.ctx
            .sys(|_, v| v.builtin(TCP).get(self.id).map(|t| t.vflag.sockaddr(t.local)))?
            .ok_or_else(gone)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let id = self.id;
        self.ctx.sys_quiet(|k, v| tcp_detach(k, v, id));
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "Socket is not connected")
}

/// A TCP connection.
pub struct TcpStream {
    ctx: SockCtx,
    id: TcbId,
}

impl TcpStream {
    /// Connect from the process's vnet.
    pub async fn connect(p: &Proc, to: SocketAddr) -> io::Result<TcpStream> {
        Self::connect_from(p, None, to).await
    }

    /// Connect from a given local address and port (`nc -s`, `nc -p`).
    pub async fn connect_from(p: &Proc, from: Option<SocketAddr>, to: SocketAddr) -> io::Result<TcpStream> {
        let ctx = SockCtx::of(p)?;
        let owner = ctx.owner();
        let id = ctx
            .sys(|k, v| {
                let id = tcp_attach(v, Some(owner), Endpoint::any_like(to.ip()));
                let r = match from {
                    Some(f) => tcp_bind(v, id, f.into()),
                    None => Ok(()),
                }
                .and_then(|_| tcp_connect(k, v, id, to.into()));
                if r.is_err() {
                    v.builtin(TCP).free(id);
                }
                r.map(|_| id)
            })?
            .map_err(to_io)?;
        let s = TcpStream { ctx, id };
        poll_fn(|cx| ready(s.ctx.sys(|_, v| tcp_poll_connect(v, s.id, cx.waker())))).await?;
        Ok(s)
    }

    /// Read what is there into `buf`, for a caller that polls many
    /// sockets; 0 at the end of the stream.
    pub fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        ready(self.ctx.sys(|k, v| tcp_recv(k, v, self.id, buf, cx.waker())))
    }

    /// Write what the send buffer takes of `buf`, for a caller that polls
    /// many sockets.
    pub fn poll_write_buf(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready(self.ctx.sys(|k, v| tcp_send(k, v, self.id, buf, cx.waker())))
    }

    /// Read some bytes; 0 at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_buf(cx, buf)).await
    }

    /// Read exactly `buf.len()` bytes.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut at = 0;
        while at < buf.len() {
            let n = self.read(&mut buf[at..]).await?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream"));
            }
            at += n;
        }
        Ok(())
    }

    /// Read until the peer closes; how many bytes came.
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut buf = vec![0u8; 64 * 1024];
        let start = out.len();
        loop {
            match self.read(&mut buf).await? {
                0 => return Ok(out.len() - start),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Write some bytes (as many as the send buffer takes).
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_buf(cx, buf)).await
    }

    /// Write all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// `shutdown(2)`: `Write` (or `Both`) sends a FIN after the data.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if how == Shutdown::Read {
            return Ok(());
        }
        self.ctx.sys(|k, v| tcp_shutdown(k, v, self.id))?.map_err(to_io)
    }

    fn with<R>(&self, f: impl FnOnce(&mut crate::netinet::tcp_var::Tcb) -> R) -> io::Result<R> {
        tcb_with(&self.ctx, self.id, f)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.with(|t| t.vflag.sockaddr(t.local))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.with(|t| t.vflag.sockaddr(t.foreign))
    }

    /// `TCP_NODELAY`: no Nagle.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.with(|t| t.nodelay = on)
    }

    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.ctx.sys(|k, v| tcp_set_keepalive(k, v, self.id, on))
    }

    /// `SO_SNDBUF`.
    pub fn set_send_buffer_size(&self, n: usize) -> io::Result<()> {
        self.with(|t| {
            t.snd_hiwat = n.max(1);
            t.snd_autosize = false;
        })
    }

    /// `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, n: usize) -> io::Result<()> {
        self.with(|t| {
            t.rcv_hiwat = n.max(1);
            t.rcv_autosize = false;
        })
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        self.with(|t| t.ttl = ttl)
    }

    /// `TCP_CONGESTION`: "newreno" or "cubic".
    pub fn set_congestion(&self, name: &str) -> io::Result<()> {
        if !Cc::known(name) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "No such file or directory"));
        }
        self.with(|t| t.cc = Cc::new(name))
    }

    /// Segments this connection retransmitted.
    pub fn retransmits(&self) -> io::Result<u64> {
        self.with(|t| t.retransmits)
    }

    /// The descriptor it was given (as sockstat shows it).
    pub fn fd(&self) -> u32 {
        self.with(|t| t.owner.as_ref().map_or(0, |o| o.fd)).unwrap_or(0)
    }

    /// The data a full segment carries (`TCP_MAXSEG`).
    pub fn mss(&self) -> io::Result<u32> {
        self.with(|t| t.maxseg())
    }

    /// The congestion window, in bytes.
    pub fn cwnd(&self) -> io::Result<u32> {
        self.with(|t| t.cwnd)
    }

    /// A look at this connection that does not own it (for
    /// `getsockopt(TCP_INFO)` while a relay holds the stream).
    pub fn peek(&self) -> TcpPeek {
        TcpPeek {
            ctx: self.ctx.clone(),
            id: self.id,
        }
    }
}

/// See [`TcpStream::peek`]; `ENOTCONN` once the connection is gone.
#[derive(Clone)]
pub struct TcpPeek {
    ctx: SockCtx,
    id: TcbId,
}

impl TcpPeek {
    /// Run `f` on the connection's control block.
    pub fn with<R>(&self, f: impl FnOnce(&crate::netinet::tcp_var::Tcb) -> R) -> io::Result<R> {
        tcb_with(&self.ctx, self.id, |t| f(t))
    }
}

/// Run `f` on connection `id`'s control block; `ENOTCONN` once it is gone.
fn tcb_with<R>(ctx: &SockCtx, id: TcbId, f: impl FnOnce(&mut crate::netinet::tcp_var::Tcb) -> R) -> io::Result<R> {
    ctx.sys(|_, v| v.builtin(TCP).get_mut(id).map(f))?.ok_or_else(gone)
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let id = self.id;
        self.ctx.sys_quiet(|k, v| tcp_detach(k, v, id));
    }
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_buf(cx, buf)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_buf(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        let b = buf.initialize_unfilled();
        match self.poll_read_buf(cx, b) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(feature = "tokio")]
impl tokio::io::AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_buf(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}
