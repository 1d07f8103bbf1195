//! Routing sockets for applications (route(4)): what a routing daemon or
//! `route monitor` reads, and its requests to the vnet's tables.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use super::SockCtx;
use crate::Proc;
use crate::net::route::{RtError, Rtentry};
use crate::net::rtsock::{RtFamily, RtMsg, route_output, rts_attach, rts_detach, rts_recv};

/// `socket(PF_ROUTE, SOCK_RAW, 0)`.
pub struct RouteSocket {
    ctx: SockCtx,
    id: usize,
    seq: std::cell::Cell<u32>,
}

impl RouteSocket {
    /// A routing socket in the process's vnet: `family` `Some(false)`
    /// hears only of IPv4, `Some(true)` only of IPv6, `None` of all.
    pub fn open(p: &Proc, family: Option<bool>) -> io::Result<RouteSocket> {
        let ctx = SockCtx::of(p)?;
        let id = ctx.sys(|_, v| rts_attach(v, family))?;
        Ok(RouteSocket { ctx, id, seq: 0.into() })
    }

    /// The next message.
    pub async fn recv(&self) -> io::Result<RtMsg> {
        poll_fn(|cx| match self.ctx.sys(|_, v| rts_recv(v, self.id, cx.waker())) {
            Ok(Some(m)) => Poll::Ready(Ok(m)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        })
        .await
    }

    /// Write `RTM_ADD`, `RTM_DELETE`, `RTM_CHANGE` or `RTM_GET` for a
    /// route of either family; every routing socket hears how it went.
    pub fn request<K: RtFamily>(&self, kind: u8, e: Rtentry<K>) -> io::Result<Result<Rtentry<K>, RtError>> {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let pid = self.ctx.proc.pid;
        self.ctx.sys(|_, v| route_output(v, kind, e, pid, seq))
    }
}

impl Drop for RouteSocket {
    fn drop(&mut self) {
        let id = self.id;
        self.ctx.sys_quiet(|_, v| rts_detach(v, id));
    }
}
