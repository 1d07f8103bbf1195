//! A process's standard input fed from another thread (a client of the
//! daemon typing or sending a file): bytes come in as the reader asks for
//! them, so a command that never reads its input never swallows it, and a
//! fast writer is held back (flow control by credit, as a pipe(2) buffer
//! holds a writer back when full).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

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
