//! A relay: bytes between a host program's end of a socket pair and a
//! vnet TCP connection, both ways, each half-closed on its own. A reader
//! thread and a writer thread do the blocking I/O on the pair; the
//! engine task moves chunks to and from the connection. Each way holds
//! at most [`QUEUE_MAX`] bytes: past that the pair's own buffers fill
//! and the program waits, as it would on a full socket.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};

use super::Notify;
use crate::kern::proc::Proc;
use crate::socket::TcpStream;

/// Bytes queued each way.
const QUEUE_MAX: usize = 256 << 10;
const CHUNK: usize = 64 << 10;

/// A buffer of [`CHUNK`] bytes and how many of them are data.
type Chunk = (Vec<u8>, usize);

/// What a reader thread has read from the program and the engine has
/// not taken yet: at most [`QUEUE_MAX`] bytes (the reader waits for
/// room), then the end. Shared with dgram.rs.
#[derive(Default)]
pub(super) struct Upstream {
    st: Mutex<Inbound>,
    room: Condvar,
}

#[derive(Default)]
struct Inbound {
    q: VecDeque<Chunk>,
    bytes: usize,
    /// The program's end said EOF (shutdown or close).
    eof: bool,
}

/// What [`Upstream::pop`] found.
pub(super) enum Up {
    Chunk(Vec<u8>, usize),
    Empty,
    End,
}

impl Upstream {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inbound> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for room (the reader thread, before it reads).
    pub(super) fn wait_room(&self) {
        let mut st = self.lock();
        while st.bytes >= QUEUE_MAX {
            st = self.room.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The first `n` bytes of `buf`; none: the end.
    pub(super) fn push(&self, buf: Vec<u8>, n: usize) {
        let mut st = self.lock();
        if n == 0 {
            st.eof = true;
        } else {
            st.bytes += n;
            st.q.push_back((buf, n));
        }
    }

    /// The next chunk (the engine).
    pub(super) fn pop(&self) -> Up {
        let mut st = self.lock();
        match st.q.pop_front() {
            Some((c, n)) => {
                st.bytes -= n;
                self.room.notify_one();
                Up::Chunk(c, n)
            }
            None if st.eof => Up::End,
            None => Up::Empty,
        }
    }
}

struct Shared {
    notify: Arc<Notify>,
    up: Upstream,
    /// Bytes handed to the writer thread, not yet written.
    outbound: AtomicUsize,
    /// The writer could not write: the program closed its end.
    broken: AtomicBool,
}

/// Buffers done with, of every relay: reused, not made anew (a short
/// connection would otherwise clear two fresh ones each way).
static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Buffers kept: 4 MiB.
const POOL_MAX: usize = 64;

/// A buffer from the pool, or a new one.
fn take() -> Vec<u8> {
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_else(|| vec![0u8; CHUNK])
}

fn give(b: Vec<u8>) {
    let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if p.len() < POOL_MAX {
        p.push(b);
    }
}

/// Relay `far` (our end of the program's pair) to `s`; `done` runs when
/// both ways have ended.
pub fn relay(p: &Proc, s: TcpStream, far: UnixStream, done: impl FnOnce() + 'static) {
    let (Ok(rd), Ok(wr)) = (far.try_clone(), far.try_clone()) else {
        done();
        return;
    };
    let sh = Arc::new(Shared {
        notify: Notify::new(p),
        up: Upstream::default(),
        outbound: AtomicUsize::new(0),
        broken: AtomicBool::new(false),
    });
    let r = sh.clone();
    super::pool::spawn(move || reader(rd, &r));
    let (tx, rx) = mpsc::channel::<Chunk>();
    let w = sh.clone();
    super::pool::spawn(move || writer(wr, rx, &w));
    p.spawn(Box::pin(async move {
        pump(s, tx, &sh).await;
        // Both ways are done: wake a reader still blocked on the pair.
        let _ = far.shutdown(Shutdown::Both);
        done();
        0
    }));
}

fn reader(mut far: UnixStream, sh: &Shared) {
    loop {
        sh.up.wait_room();
        let mut buf = take();
        let n = match far.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        sh.up.push(buf, n);
        sh.notify.wake();
        if n == 0 {
            return;
        }
    }
}

fn writer(mut far: UnixStream, rx: mpsc::Receiver<Chunk>, sh: &Shared) {
    for (chunk, n) in rx {
        let ok = far.write_all(&chunk[..n]).is_ok();
        give(chunk);
        sh.outbound.fetch_sub(n, Ordering::Relaxed);
        if !ok {
            sh.broken.store(true, Ordering::Relaxed);
        }
        sh.notify.wake();
    }
    // The connection's end: the program reads EOF.
    let _ = far.shutdown(Shutdown::Write);
}

/// Move bytes both ways until both have ended.
async fn pump(mut s: TcpStream, tx: mpsc::Sender<Chunk>, sh: &Shared) {
    let mut tx = Some(tx);
    // The chunk being sent: buffer, length, bytes sent.
    let mut cur: Option<(Vec<u8>, usize, usize)> = None;
    let (mut up_done, mut down_done) = (false, false);
    std::future::poll_fn(|cx| {
        sh.notify.register(cx.waker());
        // Program → connection.
        while !up_done {
            if cur.is_none() {
                match sh.up.pop() {
                    Up::Chunk(c, n) => cur = Some((c, n, 0)),
                    Up::End => {
                        let _ = s.shutdown(Shutdown::Write);
                        up_done = true;
                        break;
                    }
                    Up::Empty => break,
                }
            }
            let Some((c, len, off)) = cur.as_mut() else { break };
            match Pin::new(&mut s).poll_write(cx, &c[*off..*len]) {
                Poll::Ready(Ok(n)) => {
                    *off += n;
                    if *off >= *len
                        && let Some((c, _, _)) = cur.take()
                    {
                        give(c);
                    }
                }
                Poll::Ready(Err(_)) => {
                    // The connection is gone: what the program sends is lost.
                    cur = None;
                    up_done = true;
                }
                Poll::Pending => break,
            }
        }
        // Connection → program.
        while !down_done && sh.outbound.load(Ordering::Relaxed) < QUEUE_MAX {
            let mut buf = take();
            match Pin::new(&mut s).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    if sh.broken.load(Ordering::Relaxed) {
                        give(buf);
                        continue;
                    }
                    sh.outbound.fetch_add(n, Ordering::Relaxed);
                    if let Some(t) = &tx {
                        let _ = t.send((buf, n));
                    }
                }
                Poll::Ready(_) => {
                    down_done = true;
                    tx = None;
                }
                Poll::Pending => {
                    give(buf);
                    break;
                }
            }
        }
        if up_done && down_done && sh.outbound.load(Ordering::Relaxed) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}
