//! Pipes. [`Pipe`]: a process's standard input fed from another thread
//! (a client of the daemon typing or sending a file): bytes come in as the
//! reader asks for them, so a command that never reads its input never
//! swallows it, and a fast writer is held back (flow control by credit, as
//! a pipe(2) buffer holds a writer back when full). [`local_pipe`]: a
//! pipe(2) between two processes of this host (`a | b` in the shell).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::kern::proc::{In, Out};

/// The shared state of a [`local_pipe`].
#[derive(Default)]
pub struct LocalPipe {
    buf: RefCell<VecDeque<u8>>,
    /// The writing end is closed (all its handles dropped).
    eof: Cell<bool>,
    /// The reading end is closed: writes fail (EPIPE).
    broken: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl LocalPipe {
    /// Has the reader gone (so a writer would get SIGPIPE)?
    pub fn broken(&self) -> bool {
        self.broken.get()
    }

    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The writing end: an [`Out`].
struct PipeWriter(Rc<LocalPipe>);

impl std::io::Write for PipeWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.0.broken.get() {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        self.0.buf.borrow_mut().extend(b);
        self.0.wake();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.eof.set(true);
        self.0.wake();
    }
}

/// The reading end, held by an [`In`].
pub struct PipeReader(Rc<LocalPipe>);

impl PipeReader {
    pub fn poll_read(&self, cx: &Context<'_>, out: &mut [u8]) -> Poll<std::io::Result<usize>> {
        let mut buf = self.0.buf.borrow_mut();
        if buf.is_empty() && !self.0.eof.get() && !out.is_empty() {
            *self.0.waker.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.len().min(buf.len());
        for (o, b) in out.iter_mut().zip(buf.drain(..n)) {
            *o = b;
        }
        Poll::Ready(Ok(n))
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.broken.set(true);
        self.0.buf.borrow_mut().clear();
    }
}

/// pipe(2): what is written to the `Out` is read from the `In`; the `In`
/// reads 0 once every clone of the `Out` is gone, and writes fail once
/// every clone of the `In` is. The shared state tells a shell whether the
/// reader has gone.
pub fn local_pipe() -> (Out, In, Rc<LocalPipe>) {
    let p = Rc::new(LocalPipe::default());
    (
        Out::new(PipeWriter(p.clone())),
        In::local(Rc::new(PipeReader(p.clone()))),
        p,
    )
}

/// Ask for more when less than this is buffered or on its way.
const PIPE_LOW: usize = 64 << 10;
/// How much to ask for at a time.
pub const PIPE_CREDIT: usize = 256 << 10;

#[derive(Default)]
struct State {
    buf: VecDeque<u8>,
    eof: bool,
    /// Bytes asked for that have not come yet.
    granted: usize,
    waker: Option<Waker>,
}

/// The shared pipe; see the module docs.
pub struct Pipe {
    st: Mutex<State>,
    /// Ask the writer for this many more bytes.
    want: Box<dyn Fn(usize) + Send + Sync>,
}

/// The writer sent more than it was asked for.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes of input beyond what was asked for")]
pub struct Overrun(pub usize);

impl Pipe {
    pub fn new(want: impl Fn(usize) + Send + Sync + 'static) -> Arc<Pipe> {
        Arc::new(Pipe {
            st: Mutex::new(State::default()),
            want: Box::new(want),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain bytes: still usable.
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer's side: bytes that were asked for.
    pub fn write(&self, b: &[u8]) -> Result<(), Overrun> {
        let mut st = self.state();
        if b.len() > st.granted {
            return Err(Overrun(b.len() - st.granted));
        }
        st.granted -= b.len();
        st.buf.extend(b);
        if let Some(w) = st.waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// The writer's side: the end of the input.
    pub fn close(&self) {
        let mut st = self.state();
        st.eof = true;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }

    /// The reader's side: up to `out.len()` bytes, 0 at the end; pending
    /// (waking `cx` later) while nothing is there.
    pub fn poll_read(&self, cx: &Context<'_>, out: &mut [u8]) -> Poll<std::io::Result<usize>> {
        let mut st = self.state();
        let n = out.len().min(st.buf.len());
        for (o, b) in out.iter_mut().zip(st.buf.drain(..n)) {
            *o = b;
        }
        let ask = !st.eof && st.buf.len() + st.granted < PIPE_LOW;
        if ask {
            st.granted += PIPE_CREDIT;
        }
        let r = if n > 0 || st.eof || out.is_empty() {
            Poll::Ready(Ok(n))
        } else {
            st.waker = Some(cx.waker().clone());
            Poll::Pending
        };
        drop(st);
        if ask {
            (self.want)(PIPE_CREDIT);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_local_pipe_ends_when_its_writer_goes_and_breaks_when_its_reader_does() {
        let cx = Context::from_waker(Waker::noop());
        let (w, r, p) = local_pipe();
        let mut b = [0u8; 8];
        assert!(r.poll_read(&cx, &mut b).is_pending());
        w.write_bytes(b"abc");
        assert!(matches!(r.poll_read(&cx, &mut b), Poll::Ready(Ok(3))));
        let w2 = w.clone();
        drop(w);
        assert!(r.poll_read(&cx, &mut b).is_pending(), "a clone still writes");
        drop(w2);
        assert!(matches!(r.poll_read(&cx, &mut b), Poll::Ready(Ok(0))));
        let (w, r, p2) = local_pipe();
        assert!(!p2.broken());
        drop(r);
        assert!(p2.broken());
        w.write_bytes(b"into the void");
        assert!(!p.broken());
    }

    #[test]
    fn credit_flows_only_when_read_and_overruns_are_refused() {
        let asked = Arc::new(AtomicUsize::new(0));
        let a = asked.clone();
        let p = Pipe::new(move |n| {
            a.fetch_add(n, Ordering::SeqCst);
        });
        // Nothing asked until the reader reads.
        assert_eq!(p.write(b"x"), Err(Overrun(1)));
        let mut b = [0u8; 4];
        let cx = Context::from_waker(Waker::noop());
        assert!(p.poll_read(&cx, &mut b).is_pending());
        assert_eq!(asked.load(Ordering::SeqCst), PIPE_CREDIT);
        p.write(b"hello").expect("asked for");
        assert!(matches!(p.poll_read(&cx, &mut b), Poll::Ready(Ok(4))));
        assert_eq!(&b, b"hell");
        // Plenty still granted: no second request yet.
        assert_eq!(asked.load(Ordering::SeqCst), PIPE_CREDIT);
        assert_eq!(p.write(&vec![0; PIPE_CREDIT]), Err(Overrun(5)));
        p.close();
        assert!(matches!(p.poll_read(&cx, &mut b), Poll::Ready(Ok(1))));
        assert!(matches!(p.poll_read(&cx, &mut b), Poll::Ready(Ok(0))));
    }
}
