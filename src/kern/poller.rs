//! The engine's wait for the outside world under the real clock (and for
//! host programs under the virtual one). Other threads send [`Ext`]
//! events down a channel ([`ExtSender`]). On Linux the wait is epoll(7)
//! over an eventfd those senders ring, a timerfd set to the next timer,
//! and the host descriptors tasks watch ([`HostFd`]: a host program's
//! socket pair, say), so a ready descriptor wakes its task with no thread
//! in between. Elsewhere the engine waits on the channel alone.

use std::sync::mpsc;
use std::time::Duration;

use super::Ext;

/// A sender of events to the engine, from any thread.
#[derive(Clone)]
pub struct ExtSender {
    tx: mpsc::Sender<Ext>,
    #[cfg(target_os = "linux")]
    bell: Option<std::sync::Arc<nix::sys::eventfd::EventFd>>,
}

impl ExtSender {
    /// Queue `e` and wake the engine; an error if the engine is gone.
    pub fn send(&self, e: Ext) -> Result<(), mpsc::SendError<Ext>> {
        self.tx.send(e)?;
        #[cfg(target_os = "linux")]
        if let Some(b) = &self.bell {
            // Non-blocking: a counter already high still wakes.
            let _ = b.write(1);
        }
        Ok(())
    }
}

/// The engine's side: the channel's receiver, and on Linux the epoll set.
pub struct Poller {
    rx: mpsc::Receiver<Ext>,
    tx: ExtSender,
    #[cfg(target_os = "linux")]
    ep: linux::Ep,
}

impl Poller {
    pub fn new() -> Poller {
        let (tx, rx) = mpsc::channel();
        #[cfg(target_os = "linux")]
        {
            let ep = linux::Ep::new();
            let tx = ExtSender {
                tx,
                bell: ep.bell().cloned(),
            };
            Poller { rx, tx, ep }
        }
        #[cfg(not(target_os = "linux"))]
        Poller {
            rx,
            tx: ExtSender { tx },
        }
    }

    pub fn sender(&self) -> ExtSender {
        self.tx.clone()
    }

    /// Wait at most `timeout` (`None`: until something comes) for an
    /// event or a watched descriptor; `take` gets each event that came,
    /// in order. True if anything came.
    pub fn wait(&self, timeout: Option<Duration>, mut take: impl FnMut(Ext)) -> bool {
        #[cfg(target_os = "linux")]
        let epoll = self.ep.wait(timeout);
        #[cfg(not(target_os = "linux"))]
        let epoll = None;
        let mut got = match epoll {
            Some(got) => got,
            None => {
                let first = match timeout {
                    Some(d) if d.is_zero() => self.rx.try_recv().ok(),
                    Some(d) => self.rx.recv_timeout(d).ok(),
                    None => self.rx.recv().ok(),
                };
                first.map(&mut take).is_some()
            }
        };
        while let Ok(e) = self.rx.try_recv() {
            take(e);
            got = true;
        }
        got
    }
}

impl Default for Poller {
    fn default() -> Self {
        Poller::new()
    }
}

#[cfg(target_os = "linux")]
pub use linux::HostFd;

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::io;
    use std::os::fd::AsFd;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::poll::PollTimeout;
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    use nix::sys::eventfd::{EfdFlags, EventFd};
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

    const BELL: u64 = 0;
    const TIMER: u64 = 1;

    /// The epoll set (its bell, its timer) and the tasks waiting on
    /// descriptors, by token. `None` if the system refused one: then
    /// the engine waits on the channel alone and no descriptor is watched.
    pub(super) struct Ep {
        set: Option<Set>,
        watches: RefCell<HashMap<u64, Watch>>,
        next: Cell<u64>,
    }

    /// A watched descriptor: what epoll last said it is ready for (bits
    /// [`READ`], [`WRITE`], cleared when an operation would block), and the
    /// task to wake when it says more.
    #[derive(Default)]
    struct Watch {
        ready: u8,
        waker: Option<Waker>,
    }

    const READ: u8 = 1;
    const WRITE: u8 = 2;
    /// The other end shut down or hung up (it stays so): its end of
    /// stream is still to be read after what came before it.
    const ENDED: u8 = 4;

    struct Set {
        ep: Epoll,
        bell: Arc<EventFd>,
        timer: TimerFd,
    }

    impl Ep {
        pub(super) fn new() -> Ep {
            let set = (|| {
                let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).ok()?;
                let bell = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC).ok()?;
                let timer = TimerFd::new(
                    ClockId::CLOCK_MONOTONIC,
                    TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
                )
                .ok()?;
                ep.add(&bell, EpollEvent::new(EpollFlags::EPOLLIN, BELL)).ok()?;
                ep.add(&timer, EpollEvent::new(EpollFlags::EPOLLIN, TIMER)).ok()?;
                Some(Set {
                    ep,
                    bell: Arc::new(bell),
                    timer,
                })
            })();
            Ep {
                set,
                watches: RefCell::default(),
                next: Cell::new(TIMER + 1),
            }
        }

        pub(super) fn bell(&self) -> Option<&Arc<EventFd>> {
            self.set.as_ref().map(|s| &s.bell)
        }

        /// Wait (see [`super::Poller::wait`]); `None` without epoll.
        pub(super) fn wait(&self, timeout: Option<Duration>) -> Option<bool> {
            let s = self.set.as_ref()?;
            let wait = match timeout {
                Some(d) if d.is_zero() => PollTimeout::ZERO,
                Some(d) => {
                    let at = Expiration::OneShot(TimeSpec::from_duration(d));
                    match s.timer.set(at, TimerSetTimeFlags::empty()) {
                        Ok(()) => PollTimeout::NONE,
                        Err(_) => PollTimeout::ZERO,
                    }
                }
                None => {
                    let _ = s.timer.unset();
                    PollTimeout::NONE
                }
            };
            let mut ev = [EpollEvent::empty(); 64];
            let n = loop {
                match s.ep.wait(&mut ev, wait) {
                    Err(Errno::EINTR) => continue,
                    r => break r.unwrap_or(0),
                }
            };
            let mut got = false;
            for e in &ev[..n] {
                match e.data() {
                    BELL => {
                        let _ = s.bell.read();
                        got = true;
                    }
                    TIMER => {
                        let _ = nix::unistd::read(&s.timer, &mut [0u8; 8]);
                    }
                    t => {
                        if let Some(w) = self.watches.borrow_mut().get_mut(&t) {
                            let f = e.events();
                            let end = EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
                            if f.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | end) {
                                w.ready |= READ;
                            }
                            if f.intersects(EpollFlags::EPOLLRDHUP | end) {
                                w.ready |= ENDED;
                            }
                            if f.intersects(EpollFlags::EPOLLOUT | end) {
                                w.ready |= WRITE;
                            }
                            if let Some(w) = &w.waker {
                                w.wake_by_ref();
                            }
                        }
                        got = true;
                    }
                }
            }
            Some(got)
        }
    }

    /// A host descriptor a task uses without blocking: an operation that
    /// would block parks the task until epoll says the descriptor is ready
    /// (edge-triggered; until then no system call is tried again).
    /// Dropping it closes the descriptor, which leaves the epoll set with
    /// it; tokens are never reused, so a late event finds no task.
    pub struct HostFd<T: AsFd> {
        io: T,
        poller: Rc<super::Poller>,
        token: u64,
    }

    impl<T: AsFd> HostFd<T> {
        /// Watch `io`, a socket (made non-blocking), for the engine's tasks.
        pub fn new(poller: &Rc<super::Poller>, io: T) -> io::Result<HostFd<T>> {
            let ep = &poller.ep;
            let Some(s) = &ep.set else {
                return Err(io::Error::other("no epoll(7) here"));
            };
            let fd = io.as_fd();
            // A socket's only status flag that matters is this one.
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))?;
            let token = ep.next.get();
            ep.next.set(token + 1);
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET;
            s.ep.add(fd, EpollEvent::new(flags, token))?;
            // Ready for both until an operation says otherwise.
            ep.watches.borrow_mut().insert(
                token,
                Watch {
                    ready: READ | WRITE,
                    waker: None,
                },
            );
            Ok(HostFd {
                io,
                poller: poller.clone(),
                token,
            })
        }

        pub fn get_ref(&self) -> &T {
            &self.io
        }

        /// Try `op`, a read of the descriptor, unless it would block.
        pub fn poll_read<R>(&self, cx: &mut Context<'_>, op: impl FnMut(&T) -> io::Result<R>) -> Poll<io::Result<R>> {
            self.poll_io(cx, READ, op)
        }

        /// Read a stream into `buf` unless it would block. A read shorter
        /// than `buf` emptied the stream's queue: the next is not tried
        /// until epoll says more came (its edge comes with any byte
        /// queued after), which spares the read that would say EAGAIN;
        /// unless the other end has shut down, whose end of stream came
        /// with the same edge and is still to be read.
        pub fn poll_read_stream(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
        where
            for<'a> &'a T: io::Read,
        {
            let len = buf.len();
            let r = self.poll_io(cx, READ, |mut f| io::Read::read(&mut f, buf));
            if let Poll::Ready(Ok(n)) = r
                && n > 0
                && n < len
                && let Some(w) = self.poller.ep.watches.borrow_mut().get_mut(&self.token)
                && w.ready & ENDED == 0
            {
                w.ready &= !READ;
            }
            r
        }

        /// Try `op`, a write to the descriptor, unless it would block.
        pub fn poll_write<R>(&self, cx: &mut Context<'_>, op: impl FnMut(&T) -> io::Result<R>) -> Poll<io::Result<R>> {
            self.poll_io(cx, WRITE, op)
        }

        fn poll_io<R>(
            &self,
            cx: &mut Context<'_>,
            want: u8,
            mut op: impl FnMut(&T) -> io::Result<R>,
        ) -> Poll<io::Result<R>> {
            let mut watches = self.poller.ep.watches.borrow_mut();
            let Some(w) = watches.get_mut(&self.token) else {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected)));
            };
            if w.ready & want != 0 {
                loop {
                    match op(&self.io) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        r => return Poll::Ready(r),
                    }
                }
                w.ready &= !want;
            }
            if !w.waker.as_ref().is_some_and(|o| o.will_wake(cx.waker())) {
                w.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    }

    impl<T: AsFd> Drop for HostFd<T> {
        fn drop(&mut self) {
            self.poller.ep.watches.borrow_mut().remove(&self.token);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_ready_descriptor_wakes_its_task_and_other_threads_events_come_through() {
        let p = Rc::new(Poller::new());
        let (ours, theirs) = UnixStream::pair().unwrap();
        let fd = HostFd::new(&p, ours).unwrap();
        let n = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(n.clone());
        let mut cx = Context::from_waker(&w);
        let mut buf = [0u8; 8];
        // Registered, it is writable: epoll's first edge.
        assert!(p.wait(Some(Duration::ZERO), |_| {}));
        assert!(fd.poll_read(&mut cx, |mut s| s.read(&mut buf)).is_pending());
        // Nothing ready: a wait of no time says so; a timer ends a short one.
        assert!(!p.wait(Some(Duration::ZERO), |_| {}));
        assert!(!p.wait(Some(Duration::from_millis(2)), |_| {}));
        assert_eq!(n.0.load(Ordering::Relaxed), 0);
        (&theirs).write_all(b"hi").unwrap();
        assert!(p.wait(None, |_| {}));
        assert_eq!(n.0.load(Ordering::Relaxed), 1);
        assert!(matches!(
            fd.poll_read(&mut cx, |mut s| s.read(&mut buf)),
            Poll::Ready(Ok(2))
        ));
        assert_eq!(&buf[..2], b"hi");
        // Drained: the next read is not even tried until epoll says more.
        let mut tried = false;
        let r = fd.poll_read(&mut cx, |mut s| {
            tried = true;
            s.read(&mut buf)
        });
        assert!(r.is_pending() && tried);
        let r = fd.poll_read(&mut cx, |_| -> std::io::Result<usize> {
            panic!("tried while not ready")
        });
        assert!(r.is_pending());
        let tx = p.sender();
        std::thread::spawn(move || tx.send(Ext::Wake)).join().unwrap().unwrap();
        let mut got = Vec::new();
        assert!(p.wait(None, |e| got.push(e)));
        assert!(matches!(got[..], [Ext::Wake]));
        // The other end closed: readable, at its end.
        drop(theirs);
        assert!(p.wait(None, |_| {}));
        assert!(matches!(
            fd.poll_read(&mut cx, |mut s| s.read(&mut buf)),
            Poll::Ready(Ok(0))
        ));
    }

    /// A short read of a stream says it is drained, so no read that
    /// would say EAGAIN is tried; bytes and the end of stream that came
    /// with one edge are both read.
    #[test]
    fn a_short_stream_read_waits_for_the_next_edge_but_not_past_the_end() {
        let p = Rc::new(Poller::new());
        let (ours, theirs) = UnixStream::pair().unwrap();
        let fd = HostFd::new(&p, ours).unwrap();
        let w = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&w);
        let mut buf = [0u8; 64];
        (&theirs).write_all(b"one").unwrap();
        assert!(p.wait(None, |_| {}));
        assert!(matches!(fd.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(3))));
        let r = fd.poll_read(&mut cx, |_| -> std::io::Result<usize> {
            panic!("tried after a short read")
        });
        assert!(r.is_pending());
        (&theirs).write_all(b"two").unwrap();
        drop(theirs);
        assert!(p.wait(None, |_| {}));
        assert!(matches!(fd.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(3))));
        assert!(matches!(fd.poll_read_stream(&mut cx, &mut buf), Poll::Ready(Ok(0))));
    }
}
