//! A UDP relay: datagrams between a host program's end of a
//! `SOCK_SEQPACKET` pair and a vnet UDP socket, each message one datagram
//! behind a header naming its peer (shim/src/proto.rs, `DGRAM_HDR`). A
//! reader thread takes what the program sends (at most [`QUEUE_MAX`]
//! bytes waiting: then the pair fills and the program's send waits, as
//! on a full socket); the engine task sends those. What arrives goes to
//! a writer thread, at most [`QUEUE_MAX`] bytes ahead of the program:
//! past that datagrams stay in the vnet socket, whose receive buffer
//! (`net.inet.udp.recvspace`, `SO_RCVBUF`) drops and counts the excess
//! as a kernel's does. Errors for a connected socket (an ICMP port
//! unreachable, a send that failed) reach the program's next call.

use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::Poll;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, recv, send};

use super::Notify;
use super::broker::{errno_of, unmapped};
use super::proto::{DG_DATA, DG_ERROR, DGRAM_HDR, dgram_hdr, dgram_parse};
use super::relay::{Up, Upstream};
use crate::kern::proc::Proc;
use crate::socket::UdpSocket;

/// Bytes of datagrams for the program not yet written to it.
const QUEUE_MAX: usize = 256 << 10;
/// The largest datagram and its header.
const DGRAM_MAX: usize = 65535 + DGRAM_HDR;

struct Shared {
    notify: Arc<Notify>,
    up: Upstream,
    /// Bytes handed to the writer thread, not yet written.
    outbound: AtomicUsize,
}

/// Relay `far` (our end of the program's pair) to `s` until the program
/// closes its end; then `done`.
pub fn relay(p: &Proc, s: Rc<UdpSocket>, far: OwnedFd, done: impl FnOnce() + 'static) {
    let sh = Arc::new(Shared {
        notify: Notify::new(p),
        up: Upstream::default(),
        outbound: AtomicUsize::new(0),
    });
    let far = Arc::new(far);
    {
        let (sh, far) = (sh.clone(), far.clone());
        super::pool::spawn(move || reader(&far, &sh));
    }
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    {
        let (sh, far) = (sh.clone(), far.clone());
        super::pool::spawn(move || writer(&far, rx, &sh));
    }
    p.spawn(Box::pin(async move {
        pump(&s, &tx, &sh).await;
        done();
        0
    }));
}

fn writer(far: &OwnedFd, rx: mpsc::Receiver<Vec<u8>>, sh: &Shared) {
    for m in rx {
        let sent = loop {
            match send(far.as_raw_fd(), &m, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                r => break r,
            }
        };
        sh.outbound.fetch_sub(m.len(), Ordering::Relaxed);
        sh.notify.wake();
        if sent.is_err() {
            // The program is gone; the reader sees it too.
            return;
        }
    }
}

fn reader(far: &OwnedFd, sh: &Shared) {
    let mut buf = vec![0u8; DGRAM_MAX];
    loop {
        sh.up.wait_room();
        let n = match recv(far.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Ok(n) => n,
            Err(_) => 0,
        };
        sh.up.push(buf[..n].to_vec(), n);
        sh.notify.wake();
        if n == 0 {
            return;
        }
    }
}

/// An error for the program's next call, if it is connected (an
/// unconnected socket hears of none, as on Linux without IP_RECVERR).
fn report(s: &UdpSocket, tx: &mpsc::Sender<Vec<u8>>, sh: &Shared, e: &std::io::Error) {
    if s.peer_addr().is_ok() {
        give(tx, sh, dgram_hdr(DG_ERROR, errno_of(e), None).to_vec());
    }
}

/// `m` for the writer thread.
fn give(tx: &mpsc::Sender<Vec<u8>>, sh: &Shared, m: Vec<u8>) {
    sh.outbound.fetch_add(m.len(), Ordering::Relaxed);
    let _ = tx.send(m);
}

async fn pump(s: &UdpSocket, tx: &mpsc::Sender<Vec<u8>>, sh: &Shared) {
    let mut buf = vec![0u8; DGRAM_MAX];
    std::future::poll_fn(|cx| {
        sh.notify.register(cx.waker());
        // Program → vnet.
        loop {
            let m = match sh.up.pop() {
                Up::Chunk(m, _) => m,
                Up::End => return Poll::Ready(()),
                Up::Empty => break,
            };
            let Some((DG_DATA, _, to)) = dgram_parse(&m) else {
                continue;
            };
            let data = &m[DGRAM_HDR..];
            let sent = match to.map(unmapped) {
                Some(a) => s.try_send_to(data, a),
                None => s.try_send(data),
            };
            if let Err(e) = sent {
                report(s, tx, sh, &e);
            }
        }
        // Vnet → program.
        while sh.outbound.load(Ordering::Relaxed) < QUEUE_MAX {
            match s.poll_recv_from(cx, &mut buf[DGRAM_HDR..]) {
                Poll::Ready(Ok((n, from))) => {
                    buf[..DGRAM_HDR].copy_from_slice(&dgram_hdr(DG_DATA, 0, Some(from)));
                    give(tx, sh, buf[..DGRAM_HDR + n].to_vec());
                }
                // The socket itself is gone (its vnet was destroyed).
                Poll::Ready(Err(e)) if errno_of(&e) == nix::libc::EINVAL => return Poll::Ready(()),
                Poll::Ready(Err(e)) => report(s, tx, sh, &e),
                Poll::Pending => break,
            }
        }
        Poll::Pending
    })
    .await;
}
