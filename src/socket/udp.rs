//! UDP sockets for applications.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::{Context, Poll};

use super::{BindOpts, SockCtx, to_io};
use crate::Proc;
use crate::netinet::in_mcast::in_mcast_ifaddr;
use crate::netinet::in_pcb::{Endpoint, Errno};
use crate::netinet::udp::{UDP, UdpId, udp_attach, udp_bind, udp_connect, udp_detach, udp_group, udp_recv, udp_send};

/// A UDP socket.
pub struct UdpSocket {
    ctx: SockCtx,
    id: UdpId,
}

impl UdpSocket {
    /// `socket` and `bind` in the process's vnet (port 0: an ephemeral one).
    pub fn bind(p: &Proc, a: SocketAddr) -> io::Result<UdpSocket> {
        Self::bind_with(p, a, BindOpts::default())
    }

    /// As [`UdpSocket::bind`] with `SO_REUSEADDR`: sockets that all ask
    /// share the port; a datagram goes to the one connected to its sender
    /// first.
    pub fn bind_reuseaddr(p: &Proc, a: SocketAddr) -> io::Result<UdpSocket> {
        Self::bind_with(p, a, BindOpts::reuseaddr())
    }

    /// `socket`, the options, then `bind`.
    pub fn bind_with(p: &Proc, a: SocketAddr, o: BindOpts) -> io::Result<UdpSocket> {
        let s = UdpSocket::open(p, a.ip())?;
        s.bind_to(a, o)?;
        Ok(s)
    }

    /// `socket(2)` alone, of `like`'s family: bound when it first sends,
    /// or by [`UdpSocket::bind_to`].
    pub fn open(p: &Proc, like: std::net::IpAddr) -> io::Result<UdpSocket> {
        let ctx = SockCtx::of(p)?;
        let owner = ctx.owner();
        let id = ctx.sys(|_, v| udp_attach(v, Some(owner), Endpoint::any_like(like)))?;
        Ok(UdpSocket { ctx, id })
    }

    /// The options, then `bind(2)`.
    pub fn bind_to(&self, a: SocketAddr, o: BindOpts) -> io::Result<()> {
        self.with(|u| {
            u.reuseaddr = o.reuseaddr;
            o.set_v6only(&mut u.vflag);
        })?;
        self.ctx
            .sys(|_, v| udp_bind(v, self.id, a.into()))?
            .map(|_| ())
            .map_err(to_io)
    }

    /// `connect(2)` to `AF_UNSPEC`: no peer any more.
    pub fn disconnect(&self) -> io::Result<()> {
        self.with(|u| u.foreign = Endpoint::any_like(u.foreign.addr))
    }

    /// A datagram that arrived but found no room where it was going
    /// (`netstat -s`: dropped due to full socket buffers).
    pub fn count_fullsock(&self) {
        let _ = self.ctx.sys(|_, v| v.builtin(UDP).stats.fullsock += 1);
    }

    /// Fix the peer: `send` and `recv` then talk to it only.
    pub fn connect(&self, to: SocketAddr) -> io::Result<()> {
        self.ctx.sys(|_, v| udp_connect(v, self.id, to.into()))?.map_err(to_io)
    }

    pub async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.try_send_to(buf, to)
    }

    /// Send to `to` now: a datagram never waits.
    pub fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.ctx
            .sys(|k, v| udp_send(k, v, self.id, buf, Some(to.into())))?
            .map_err(to_io)
    }

    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.try_send(buf)
    }

    /// Send now to the connected peer: a datagram never waits.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.ctx.sys(|k, v| udp_send(k, v, self.id, buf, None))?.map_err(to_io)
    }

    /// The next datagram (truncated to `buf`) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Poll for the next datagram, as tokio's `UdpSocket::poll_recv_from`.
    pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.poll_recv_if(cx, buf).map_ok(|(n, from, _)| (n, from))
    }

    /// The next datagram, its sender and the index of the interface it
    /// came in by (`IP_RECVIF`, `IPV6_PKTINFO`).
    pub async fn recv_from_if(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, u32)> {
        poll_fn(|cx| self.poll_recv_if(cx, buf)).await
    }

    fn poll_recv_if(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr, u32)>> {
        match self.ctx.sys(|_, v| udp_recv(v, self.id, buf, cx.waker())) {
            Ok(Ok((n, from, ifindex))) => Poll::Ready(Ok((n, self.with(|p| p.vflag.sockaddr(from))?, ifindex))),
            Ok(Err(Errno::Again)) => Poll::Pending,
            Ok(Err(e)) => Poll::Ready(Err(to_io(e))),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.with(|p| p.broadcast = on)
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u8) -> io::Result<()> {
        self.with(|p| p.ttl = ttl)
    }

    /// `IP_ADD_MEMBERSHIP`: join `group` on the interface with address
    /// `interface` (unspecified: the one the route to the group says).
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.group_v4(group, interface, true)
    }

    /// `IP_DROP_MEMBERSHIP`.
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.group_v4(group, interface, false)
    }

    fn group_v4(&self, group: Ipv4Addr, interface: Ipv4Addr, join: bool) -> io::Result<()> {
        self.ctx
            .sys(|_, v| {
                let g = IpAddr::V4(group);
                let index = in_mcast_ifaddr(v, g, interface.to_bits())?;
                udp_group(v, self.id, g, Some(index), join)
            })?
            .map_err(to_io)
    }

    /// `IP_ADD_MEMBERSHIP` with an `ip_mreqn`'s interface index, or
    /// `IPV6_JOIN_GROUP` (index 0: as the route says).
    pub fn join_multicast(&self, group: IpAddr, index: u32) -> io::Result<()> {
        self.ctx
            .sys(|_, v| udp_group(v, self.id, group, (index != 0).then_some(index), true))?
            .map_err(to_io)
    }

    /// `IP_DROP_MEMBERSHIP` by index, `IPV6_LEAVE_GROUP`.
    pub fn leave_multicast(&self, group: IpAddr, index: u32) -> io::Result<()> {
        self.ctx
            .sys(|_, v| udp_group(v, self.id, group, (index != 0).then_some(index), false))?
            .map_err(to_io)
    }

    /// `IP_MULTICAST_IF`, `IPV6_MULTICAST_IF`: send multicasts out of
    /// interface `index` (0: as the route says).
    pub fn set_multicast_if(&self, index: u32) -> io::Result<()> {
        self.with(|p| p.mopts.ifindex = (index != 0).then_some(index))
    }

    /// `IP_MULTICAST_IF` by an interface's address.
    pub fn set_multicast_if_v4(&self, interface: Ipv4Addr) -> io::Result<()> {
        let index = match interface.to_bits() {
            0 => 0,
            a => self
                .ctx
                .sys(|_, v| in_mcast_ifaddr(v, IpAddr::V4(Ipv4Addr::BROADCAST), a))?
                .map_err(to_io)?,
        };
        self.set_multicast_if(index)
    }

    /// `IP_MULTICAST_TTL`, `IPV6_MULTICAST_HOPS` (default 1).
    pub fn set_multicast_ttl(&self, ttl: u8) -> io::Result<()> {
        self.with(|p| p.mopts.ttl = Some(ttl))
    }

    /// `IP_MULTICAST_LOOP`, `IPV6_MULTICAST_LOOP` (default on).
    pub fn set_multicast_loop(&self, on: bool) -> io::Result<()> {
        self.with(|p| p.mopts.noloop = !on)
    }

    /// The multicast options as set.
    pub fn multicast_options(&self) -> io::Result<crate::netinet::in_mcast::MOptions> {
        self.with(|p| p.mopts.clone())
    }

    /// `SO_RCVBUF`.
    pub fn set_recv_buffer_size(&self, n: usize) -> io::Result<()> {
        self.with(|p| p.rcv_hiwat = n.max(1))
    }

    fn with<R>(&self, f: impl FnOnce(&mut crate::netinet::udp::UdpPcb) -> R) -> io::Result<R> {
        self.ctx
            .sys(|_, v| v.builtin(UDP).get_mut(self.id).map(f))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "Socket is not connected"))
    }

    /// The descriptor it was given (as sockstat shows it).
    pub fn fd(&self) -> u32 {
        self.with(|p| p.owner.as_ref().map_or(0, |o| o.fd)).unwrap_or(0)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.with(|p| p.vflag.sockaddr(p.local))
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self.with(|p| (p.vflag, p.foreign))? {
            (_, Endpoint { port: 0, .. }) => {
                Err(io::Error::new(io::ErrorKind::NotConnected, "Socket is not connected"))
            }
            (vf, f) => Ok(vf.sockaddr(f)),
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let id = self.id;
        self.ctx.sys_quiet(|_, v| udp_detach(v, id));
    }
}
