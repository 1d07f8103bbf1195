//! A relay: bytes between a host program's end of a socket pair and a
//! vnet TCP connection, both ways, each half-closed on its own, moved by
//! one engine task: our end of the pair is a [`HostFd`], so the program's
//! writes wake the task and its reads make room, with no thread between.
//! Each way holds at most one chunk in hand: past that the pair's own
//! buffers fill and the program waits, as it would on a full socket.

use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};
use nix::sys::socket::{MsgFlags, send};

use crate::kern::poller::HostFd;
use crate::kern::proc::Proc;
use crate::socket::TcpStream;

const CHUNK: usize = 64 << 10;

thread_local! {
    /// Buffers done with, of every relay (all run on the engine's
    /// thread): reused, not made anew, so a short connection clears no
    /// fresh 64 KiB. At most [`POOL_MAX`] are kept (4 MiB).
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}
const POOL_MAX: usize = 64;

/// A buffer from the pool, or a new one.
fn take() -> Vec<u8> {
    POOL.with_borrow_mut(|p| p.pop()).unwrap_or_else(|| vec![0u8; CHUNK])
}

fn give(b: Vec<u8>) {
    POOL.with_borrow_mut(|p| {
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}

/// Relay `far` (our end of the program's pair) to `s`; `done` runs when
/// both ways have ended.
pub fn relay(p: &Proc, s: TcpStream, far: UnixStream, done: impl FnOnce() + 'static) {
    let Ok(far) = HostFd::new(&p.kernel().poller(), far) else {
        done();
        return;
    };
    p.spawn(Box::pin(async move {
        pump(s, &far).await;
        done();
        0
    }));
}

/// Bytes in hand one way: a buffer, its length, how many have gone on.
#[derive(Default)]
struct Hand {
    buf: Option<Vec<u8>>,
    len: usize,
    off: usize,
}

impl Hand {
    fn is_empty(&self) -> bool {
        self.off >= self.len
    }

    fn buf(&mut self) -> &mut Vec<u8> {
        self.buf.get_or_insert_with(take)
    }

    fn pending(&self) -> &[u8] {
        self.buf.as_deref().map_or(&[], |b| &b[self.off..self.len])
    }

    /// Drop what is in hand.
    fn clear(&mut self) {
        self.advance(self.len - self.off);
    }

    /// `n` more have gone on; an emptied buffer goes back to the pool.
    fn advance(&mut self, n: usize) {
        self.off += n;
        if self.is_empty()
            && let Some(b) = self.buf.take()
        {
            give(b);
        }
    }

    fn filled(&mut self, n: usize) {
        (self.len, self.off) = (n, 0);
        if n == 0
            && let Some(b) = self.buf.take()
        {
            give(b);
        }
    }
}

impl Drop for Hand {
    fn drop(&mut self) {
        if let Some(b) = self.buf.take() {
            give(b);
        }
    }
}

/// Move bytes both ways until both have ended.
async fn pump(mut s: TcpStream, far: &HostFd<UnixStream>) {
    let (mut up, mut down) = (Hand::default(), Hand::default());
    let (mut up_done, mut down_done) = (false, false);
    // The program closed its end: what comes for it is dropped.
    let mut broken = false;
    std::future::poll_fn(|cx| {
        loop {
            let mut moved = false;
            // Program → connection.
            if !up_done && up.is_empty() {
                match far.poll_read_stream(cx, up.buf()) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        up.filled(n);
                        moved = true;
                    }
                    Poll::Ready(_) => {
                        up.filled(0);
                        let _ = s.shutdown(Shutdown::Write);
                        up_done = true;
                    }
                    Poll::Pending => {}
                }
            }
            if !up_done && !up.is_empty() {
                match Pin::new(&mut s).poll_write(cx, up.pending()) {
                    Poll::Ready(Ok(n)) => {
                        up.advance(n);
                        moved = true;
                    }
                    Poll::Ready(Err(_)) => {
                        // The connection is gone: what the program sends is lost.
                        up.clear();
                        up_done = true;
                    }
                    Poll::Pending => {}
                }
            }
            // Connection → program.
            if !down_done && down.is_empty() {
                match Pin::new(&mut s).poll_read(cx, down.buf()) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        down.filled(n);
                        moved = true;
                    }
                    Poll::Ready(_) => {
                        down.filled(0);
                        // The connection's end: the program reads EOF.
                        let _ = far.get_ref().shutdown(Shutdown::Write);
                        down_done = true;
                    }
                    Poll::Pending => {}
                }
            }
            if !down.is_empty() && broken {
                down.clear();
                moved = true;
            }
            if !down.is_empty() {
                let fd = far.get_ref().as_raw_fd();
                match far.poll_write(cx, |_| Ok(send(fd, down.pending(), MsgFlags::MSG_NOSIGNAL)?)) {
                    Poll::Ready(Ok(n)) => {
                        down.advance(n);
                        moved = true;
                    }
                    Poll::Ready(Err(_)) => broken = true,
                    Poll::Pending => {}
                }
            }
            if up_done && down_done && down.is_empty() {
                return Poll::Ready(());
            }
            if !moved {
                return Poll::Pending;
            }
        }
    })
    .await;
}
