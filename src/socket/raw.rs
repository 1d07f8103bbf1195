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
use crate::netinet::in_jail::prison_saddr_ip;
use crate::netinet::in_pcb::{Endpoint, Errno, in_pcbladdr};
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

    /// Send `buf` (the payload: an ICMP message, say) to `to`; the port
    /// is ignored.
    pub async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = Endpoint::from(to);
        if to.addr.is_ipv6() != self.inet6 {
            return Err(to_io(Errno::AfNoSupport));
        }
        let (proto, ttl, ip4) = (
            self.proto,
            (self.ttl.get() > 0).then_some(self.ttl.get()),
            &self.ctx.ip4,
        );
        let r = self.ctx.sys(|k, v| {
            let src = in_pcbladdr(v, to.addr).ok_or(Errno::NetUnreach)?;
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
                        ..Ip6Opts::default()
                    };
                    rip6_output(k, v, &msg, s, d, &o)
                }
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    let o = IpOpts {
                        src: Some(s.to_bits()),
                        ttl,
                        proto,
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
            return Ok((n, from));
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
