//! A UDP relay: datagrams between a host program's end of a
//! `SOCK_SEQPACKET` pair and a vnet UDP socket, each message one datagram
//! behind a header naming its peer (shim/src/proto.rs, `DGRAM_HDR`), moved
//! by one engine task over a [`HostFd`]. What the program sends is taken
//! as it comes (while it is not read the pair fills and the program's
//! send waits, as on a full socket). What arrives goes to the program at
//! once; while the pair is full at most one datagram waits in hand and
//! the rest stay in the vnet socket, whose receive buffer
//! (`net.inet.udp.recvspace`, `SO_RCVBUF`) drops and counts the excess as
//! a kernel's does. Errors for a connected socket (an ICMP port
//! unreachable, a send that failed) reach the program's next call.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::task::Poll;

use nix::sys::socket::{MsgFlags, recv, send};

use super::broker::{errno_of, unmapped};
use super::proto::{DG_DATA, DG_ERROR, DGRAM_HDR, dgram_hdr, dgram_parse};
use crate::kern::poller::HostFd;
use crate::kern::proc::Proc;
use crate::socket::UdpSocket;

/// The largest datagram and its header.
const DGRAM_MAX: usize = 65535 + DGRAM_HDR;

/// Relay `far` (our end of the program's pair) to `s` until the program
/// closes its end; then `done`.
pub fn relay(p: &Proc, s: Rc<UdpSocket>, far: OwnedFd, done: impl FnOnce() + 'static) {
    let Ok(far) = HostFd::new(&p.kernel().poller(), far) else {
        done();
        return;
    };
    p.spawn(Box::pin(async move {
        pump(&s, &far).await;
        done();
        0
    }));
}

/// Messages for the program that found its pair full.
struct Out<'a> {
    far: &'a HostFd<OwnedFd>,
    q: VecDeque<Vec<u8>>,
    /// The program is gone.
    broken: bool,
}

impl Out<'_> {
    /// Send what waits; true when nothing does.
    fn flush(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        while let Some(m) = self.q.pop_front() {
            if self.send(cx, &m).is_pending() {
                self.q.push_front(m);
                return false;
            }
        }
        true
    }

    fn send(&mut self, cx: &mut std::task::Context<'_>, m: &[u8]) -> Poll<()> {
        if self.broken {
            return Poll::Ready(());
        }
        let fd = self.far.get_ref().as_raw_fd();
        match self.far.poll_write(cx, |_| Ok(send(fd, m, MsgFlags::MSG_NOSIGNAL)?)) {
            Poll::Ready(Ok(_)) => Poll::Ready(()),
            Poll::Ready(Err(_)) => {
                self.broken = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// `m` now, or in hand if the pair is full.
    fn give(&mut self, cx: &mut std::task::Context<'_>, m: &[u8]) {
        if !self.flush(cx) || self.send(cx, m).is_pending() {
            self.q.push_back(m.to_vec());
        }
    }

    /// An error for the program's next call, if it is connected (an
    /// unconnected socket hears of none, as on Linux without IP_RECVERR).
    fn report(&mut self, cx: &mut std::task::Context<'_>, s: &UdpSocket, e: &std::io::Error) {
        if s.peer_addr().is_ok() {
            self.give(cx, &dgram_hdr(DG_ERROR, errno_of(e), None));
        }
    }
}

async fn pump(s: &UdpSocket, far: &HostFd<OwnedFd>) {
    let mut buf = vec![0u8; DGRAM_MAX];
    let mut out = Out {
        far,
        q: VecDeque::new(),
        broken: false,
    };
    std::future::poll_fn(|cx| {
        // Program → vnet.
        loop {
            let fd = far.get_ref().as_raw_fd();
            let n = match far.poll_read(cx, |_| Ok(recv(fd, &mut buf, MsgFlags::empty())?)) {
                Poll::Ready(Ok(n)) if n > 0 => n,
                // The program closed its end (or it is gone).
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => break,
            };
            let m = &buf[..n];
            let Some((DG_DATA, _, to)) = dgram_parse(m) else {
                continue;
            };
            let data = &m[DGRAM_HDR..];
            let sent = match to.map(unmapped) {
                Some(a) => s.try_send_to(data, a),
                None => s.try_send(data),
            };
            if let Err(e) = sent {
                out.report(cx, s, &e);
            }
        }
        // Vnet → program, while the program takes them.
        while out.flush(cx) {
            match s.poll_recv_from(cx, &mut buf[DGRAM_HDR..]) {
                Poll::Ready(Ok((n, from))) => {
                    buf[..DGRAM_HDR].copy_from_slice(&dgram_hdr(DG_DATA, 0, Some(from)));
                    out.give(cx, &buf[..DGRAM_HDR + n]);
                }
                // The socket itself is gone (its vnet was destroyed).
                Poll::Ready(Err(e)) if errno_of(&e) == nix::libc::EINVAL => return Poll::Ready(()),
                Poll::Ready(Err(e)) => out.report(cx, s, &e),
                Poll::Pending => break,
            }
        }
        Poll::Pending
    })
    .await;
}
