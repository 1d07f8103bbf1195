//! Raw sockets for applications (`socket(AF_INET or AF_INET6, SOCK_RAW,
//! proto)`, raw(4), RFC 3542 §3): what ping, traceroute and rtsol are
//! built on, for programs of one's own. A socket of protocol P gets every
//! datagram of P the stack does not consume (ICMP: replies and errors).
//! IPv4's come with their IP header, as on BSD; IPv6's without (RFC 3542
//! §3), and the kernel computes an ICMPv6 checksum on the way out
//! (§3.1). What is sent is the payload: the kernel writes the header.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;

use super::{SockCtx, to_io};
use crate::Proc;
use crate::kern::mbuf::Mbuf;
use crate::netinet::in_::in_ifaddr_for;
use crate::netinet::in_jail::prison_saddr_ip;
use crate::netinet::in_mcast::{in_joingroup, in_leavegroup, in_mcast_ifp, in_purgemoptions};
use crate::netinet::in_pcb::{Endpoint, Errno, in_pcbladdr, ip4 as ip4_addr};
use crate::netinet::ip_output::{IpOpts, IpOutErr, ip_output};
use crate::netinet::raw_ip::{RawSock, rip_attach};
use crate::netinet6::icmp6::rip6_output;
use crate::netinet6::ip6::IPPROTO_ICMPV6;
use crate::netinet6::ip6_output::Ip6Opts;
use crate::wire::ipv6::ext_walk;

/// A raw socket of one family and protocol.
pub struct RawSocket {
    ctx: SockCtx,
    sock: Rc<RefCell<RawSock>>,
    inet6: bool,
    proto: u8,
    /// `IP_TTL`, `IPV6_UNICAST_HOPS`: 0 for the default.
    ttl: std::cell::Cell<u8>,
}

impl RawSocket {
    /// A raw socket in the process's vnet: IPv6 if `inet6`, of protocol
    /// `proto` (1 ICMP, 58 ICMPv6, ...).
    pub fn new(p: &Proc, inet6: bool, proto: u8) -> io::Result<RawSocket> {
        let ctx = SockCtx::of(p)?;
        let sock = ctx.sys(|_, v| rip_attach(v, proto))?;
        Ok(RawSocket {
            ctx,
            sock,
            inet6,
            proto,
            ttl: Default::default(),
        })
    }

    /// `IP_TTL` or `IPV6_UNICAST_HOPS` of what it sends.
    pub fn set_ttl(&self, ttl: u8) {
        self.ttl.set(ttl);
    }

    /// `ICMP6_FILTER` (RFC 3542 §3.2): take only ICMPv6 messages of these
    /// types (`ICMP6_FILTER_SETBLOCKALL`, then `SETPASS` each).
    pub fn set_icmp6_filter(&self, pass: &[u8]) {
        let mut f = [0u64; 4];
        for &t in pass {
            f[t as usize / 64] |= 1 << (t % 64);
        }
        self.sock.borrow_mut().icmp6_filter = Some(f);
    }

    /// `IP_ADD_MEMBERSHIP`, `IPV6_JOIN_GROUP` (or leave): take datagrams
    /// to `group` that come in by interface `index` (0: as the route to
    /// the group says); from then on only the groups it joined.
    pub fn set_membership(&self, group: IpAddr, index: u32, join: bool) -> io::Result<()> {
        let sock = &self.sock;
        self.ctx
            .sys(|_, v| {
                let index = match index {
                    0 => in_mcast_ifp(v, group).ok_or(Errno::AddrNotAvail)?,
                    i => i,
                };
                let mo = &mut sock.borrow_mut().mopts;
                if join {
                    in_joingroup(v, mo, group, index)
                } else {
                    in_leavegroup(v, mo, group, index)
                }
            })?
            .map_err(to_io)
    }

    /// `IP_MULTICAST_IF`, `IPV6_MULTICAST_IF` (0: as the route says).
    pub fn set_multicast_if(&self, index: u32) {
        self.sock.borrow_mut().mopts.ifindex = (index != 0).then_some(index);
    }

    /// `IP_MULTICAST_TTL`, `IPV6_MULTICAST_HOPS` (default 1).
    pub fn set_multicast_ttl(&self, ttl: u8) {
        self.sock.borrow_mut().mopts.ttl = Some(ttl);
    }

    /// `IP_MULTICAST_LOOP`, `IPV6_MULTICAST_LOOP` (default on).
    pub fn set_multicast_loop(&self, on: bool) {
        self.sock.borrow_mut().mopts.noloop = !on;
    }

    /// Send `buf` (the payload: an ICMP message, say) to `to`; the port
    /// is ignored.
    pub async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = Endpoint::from(to);
        if to.addr.is_ipv6() != self.inet6 {
            return Err(to_io(Errno::AfNoSupport));
        }
        let (proto, mut ttl, ip4) = (
            self.proto,
            (self.ttl.get() > 0).then_some(self.ttl.get()),
            &self.ctx.ip4,
        );
        let (mut ifindex, mloop) = {
            let s = self.sock.borrow();
            (None, !s.mopts.noloop)
        };
        if to.addr.is_multicast() {
            let s = self.sock.borrow();
            (ttl, ifindex) = (Some(s.mopts.ttl()), s.mopts.ifindex);
        }
        let r = self.ctx.sys(|k, v| {
            let src = match (ifindex, to.addr) {
                (Some(i), IpAddr::V4(_)) => in_ifaddr_for(v, i, 0).map(ip4_addr),
                _ => in_pcbladdr(v, to.addr),
            };
            let src = src.ok_or(Errno::NetUnreach)?;
            let src = prison_saddr_ip(ip4.as_deref(), src)?;
            let sent = match (src, to.addr) {
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    let mut msg = buf.to_vec();
                    if proto == IPPROTO_ICMPV6 && msg.len() >= 4 {
                        crate::wire::icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&s, &d);
                    }
                    let o = Ip6Opts {
                        hlim: ttl,
                        proto,
                        ifindex,
                        ..Ip6Opts::default()
                    };
                    rip6_output(k, v, &msg, s, d, &o)
                }
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    let o = IpOpts {
                        src: Some(s.to_bits()),
                        ttl,
                        proto,
                        ifindex,
                        mloop,
                        ..IpOpts::default()
                    };
                    ip_output(k, v, Mbuf::from_slice(buf), d.to_bits(), &o)
                }
                _ => return Err(Errno::AfNoSupport),
            };
            sent.map_err(|e| match e {
                IpOutErr::MsgSize(_) => Errno::MsgSize,
                IpOutErr::AddrNotAvail => Errno::AddrNotAvail,
                IpOutErr::NoBufs => Errno::NoBufs,
                _ => Errno::NetUnreach,
            })
        })?;
        r.map(|()| buf.len()).map_err(to_io)
    }

    /// The next datagram (truncated to `buf`) and who sent it.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_if(buf).await.map(|(n, from, _)| (n, from))
    }

    /// As [`RawSocket::recv_from`], and the interface it came in by
    /// (`IP_RECVIF`).
    pub async fn recv_from_if(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, u32)> {
        loop {
            let (_, ifindex, d) = poll_fn(|cx| match RawSock::poll_recvif(&self.sock, cx.waker()) {
                Some(x) => Poll::Ready(x),
                None => Poll::Pending,
            })
            .await;
            let Some((from, body)) = self.unwrap_header(&d, ifindex) else {
                continue;
            };
            let n = body.len().min(buf.len());
            buf[..n].copy_from_slice(&body[..n]);
            return Ok((n, from, ifindex));
        }
    }

    /// As [`RawSocket::recv_from_if`] if a datagram waits, without
    /// waiting.
    pub fn try_recv_from_if(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr, u32)> {
        loop {
            let (_, ifindex, d) = RawSock::poll_recvif(&self.sock, std::task::Waker::noop())?;
            let Some((from, body)) = self.unwrap_header(&d, ifindex) else {
                continue;
            };
            let n = body.len().min(buf.len());
            buf[..n].copy_from_slice(&body[..n]);
            return Some((n, from, ifindex));
        }
    }

    /// Where a datagram is from, and what the socket reads of it.
    fn unwrap_header<'a>(&self, d: &'a [u8], ifindex: u32) -> Option<(SocketAddr, &'a [u8])> {
        if self.inet6 {
            let p = crate::wire::ipv6::Packet::new_checked(d).ok()?;
            let chain = ext_walk(d).ok()?;
            let src = crate::wire::ipv6::in6_setscope(p.src_addr(), ifindex);
            let from = SocketAddr::from(Endpoint::new(src, 0));
            Some((from, &d[chain.off..]))
        } else {
            let p = crate::wire::ipv4::Packet::new_checked(d).ok()?;
            Some((SocketAddr::from(Endpoint::v4(p.src_addr(), 0)), d))
        }
    }
}

impl Drop for RawSocket {
    /// Closing leaves its groups.
    fn drop(&mut self) {
        let sock = &self.sock;
        self.ctx
            .sys_quiet(|_, v| in_purgemoptions(v, &mut sock.borrow_mut().mopts));
    }
}
