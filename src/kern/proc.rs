//! A process: what a command running in a jail holds — the kernel, its
//! jail (the credential: which vnet is current, which hostname it sees) and
//! its standard input and outputs. The system-call boundary.

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::clock::Time;
use crate::kern::jail::{JailError, Jid};
use crate::kern::pipe::{Pipe, PipeReader};
use crate::kern::task::{Executor, TaskFuture, TaskId};
use crate::kern::tty::Tty;

/// An output stream: the terminal, a buffer, a host file, a pipe.
#[derive(Clone)]
pub struct Out(Rc<RefCell<dyn Write>>, Option<i32>);

impl Out {
    pub fn new(w: impl Write + 'static) -> Out {
        Out(Rc::new(RefCell::new(w)), None)
    }

    /// This process's own standard output (a host program run here may
    /// write to it directly).
    pub fn stdout() -> Out {
        Out(Rc::new(RefCell::new(std::io::stdout())), Some(1))
    }

    pub fn stderr() -> Out {
        Out(Rc::new(RefCell::new(std::io::stderr())), Some(2))
    }

    /// The host descriptor this stream is, if it is this process's own
    /// standard output or error.
    pub fn host_fd(&self) -> Option<i32> {
        self.1
    }

    /// Is this the same stream as `o`?
    pub fn same(&self, o: &Out) -> bool {
        Rc::ptr_eq(&self.0, &o.0)
    }

    pub fn null() -> Out {
        Out::new(std::io::sink())
    }

    /// An in-memory stream and the buffer it fills.
    pub fn buffer() -> (Out, Rc<RefCell<Vec<u8>>>) {
        let buf = Rc::new(RefCell::new(Vec::new()));
        (Out::new(SharedBuf(buf.clone())), buf)
    }

    /// Write formatted text; a failing stream (a closed pipe) is ignored,
    /// as a process that lost its terminal goes on.
    pub fn write_fmt(&self, args: fmt::Arguments<'_>) {
        if let Ok(mut w) = self.0.try_borrow_mut() {
            let _ = w.write_fmt(args);
            let _ = w.flush();
        }
    }

    pub fn write_bytes(&self, b: &[u8]) {
        if let Ok(mut w) = self.0.try_borrow_mut() {
            let _ = w.write_all(b);
            let _ = w.flush();
        }
    }
}

struct SharedBuf(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An input stream: nothing, a file or bytes, a [`Pipe`] fed from another
/// thread, a pipe from another process here, or the terminal.
#[derive(Clone)]
pub struct In(InKind);

#[derive(Clone)]
enum InKind {
    Null,
    Read(Rc<RefCell<dyn Read>>),
    Pipe(Arc<Pipe>),
    Local(Rc<PipeReader>),
    Tty(Rc<Tty>),
}

/// Where a host program run here takes its input from (see
/// [`In::host_source`]).
pub enum HostSource {
    Null,
    /// The terminal itself.
    Tty,
    /// Bytes the task must feed it.
    Feed,
}

impl In {
    pub fn new(r: impl Read + 'static) -> In {
        In(InKind::Read(Rc::new(RefCell::new(r))))
    }

    pub fn null() -> In {
        In(InKind::Null)
    }

    pub fn pipe(p: Arc<Pipe>) -> In {
        In(InKind::Pipe(p))
    }

    pub fn local(r: Rc<PipeReader>) -> In {
        In(InKind::Local(r))
    }

    pub fn tty(t: Rc<Tty>) -> In {
        In(InKind::Tty(t))
    }

    /// The terminal, if this is it.
    pub fn as_tty(&self) -> Option<&Rc<Tty>> {
        match &self.0 {
            InKind::Tty(t) => Some(t),
            _ => None,
        }
    }

    /// How a host program would read this stream.
    pub fn host_source(&self) -> HostSource {
        match &self.0 {
            InKind::Null => HostSource::Null,
            InKind::Tty(_) => HostSource::Tty,
            _ => HostSource::Feed,
        }
    }

    /// Read up to `buf.len()` bytes, 0 at the end, as a process does:
    /// pending until input comes.
    pub fn poll_read(&self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<std::io::Result<usize>> {
        match &self.0 {
            InKind::Null => Poll::Ready(Ok(0)),
            InKind::Read(r) => Poll::Ready(r.borrow_mut().read(buf)),
            InKind::Pipe(p) => p.poll_read(cx, buf),
            InKind::Local(p) => p.poll_read(cx, buf),
            InKind::Tty(t) => t.poll_read(cx, buf),
        }
    }

    /// Read one line (without its newline); `None` at the end. Reads a
    /// byte at a time, so what follows the line stays for the next reader.
    pub async fn read_line(&self) -> Option<String> {
        let mut line = Vec::new();
        loop {
            let mut b = [0u8; 1];
            match std::future::poll_fn(|cx| self.poll_read(cx, &mut b)).await {
                Ok(1) if b[0] == b'\n' => break,
                Ok(1) => line.push(b[0]),
                _ if line.is_empty() => return None,
                _ => break,
            }
        }
        Some(String::from_utf8_lossy(&line).into_owned())
    }
}

/// A process's standard streams.
#[derive(Clone)]
pub struct Stdio {
    pub stdin: In,
    pub stdout: Out,
    pub stderr: Out,
}

impl Stdio {
    /// No input, output discarded.
    pub fn null_all() -> Stdio {
        Stdio {
            stdin: In::null(),
            stdout: Out::null(),
            stderr: Out::null(),
        }
    }

    /// The terminal's streams.
    pub fn inherit() -> Stdio {
        Stdio {
            stdin: In::null(),
            stdout: Out::stdout(),
            stderr: Out::stderr(),
        }
    }
}

/// SIGINT from the terminal: raised by whoever stands for it (the shell,
/// the daemon's client at a Ctrl-C) for the foreground command and the
/// commands it runs (one process group). A command that catches it (ping
/// prints its statistics) sees it; any other is stopped.
#[derive(Default)]
pub struct Intr {
    raised: Cell<bool>,
    caught: Cell<bool>,
    waker: RefCell<Option<std::task::Waker>>,
}

impl Intr {
    /// Raise it; false if nobody catches it (then stop the command).
    pub fn raise(&self) -> bool {
        self.raised.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
        self.caught.get()
    }

    pub fn raised(&self) -> bool {
        self.raised.get()
    }

    /// Take a raised interrupt (a handler that ran and goes on): true if
    /// there was one.
    pub fn take(&self) -> bool {
        self.raised.replace(false)
    }

    /// Catch it from now on (signal(SIGINT, handler)).
    pub fn catch(&self) {
        self.caught.set(true);
    }

    /// Has it been raised? If not, wake `w` when it is.
    pub fn poll_raised(&self, w: &std::task::Waker) -> bool {
        if !self.raised.get() {
            *self.waker.borrow_mut() = Some(w.clone());
        }
        self.raised.get()
    }
}

/// A process; see the module docs. Cloning gives another handle to the
/// same kernel (a child inherits its parent's jail and streams).
#[derive(Clone)]
pub struct Proc {
    k: Rc<RefCell<Kernel>>,
    exec: Executor,
    /// The jail it runs in (its credential).
    pub jid: Jid,
    /// Its process id and command name (`p_comm`), as sockstat shows.
    pub pid: u32,
    pub comm: Rc<str>,
    /// The next file descriptor (sockets count from 3).
    fds: Rc<std::cell::Cell<u32>>,
    pub stdin: In,
    pub stdout: Out,
    pub stderr: Out,
    /// Its terminal's interrupt (shared with the commands it runs).
    pub intr: Rc<Intr>,
    /// The environment a host program it runs gets (`None`: vimage's own)
    /// and its working directory (`None`: vimage's).
    pub env: Option<Rc<[(String, String)]>>,
    pub cwd: Option<Rc<std::path::Path>>,
    /// Run in the background (`&`): a host program it runs does not hold
    /// the virtual clock.
    pub background: bool,
}

impl Proc {
    pub(crate) fn new(k: Rc<RefCell<Kernel>>, exec: Executor, jid: Jid, io: Stdio) -> Proc {
        let pid = k.borrow_mut().alloc_pid();
        Proc {
            k,
            exec,
            jid,
            pid,
            comm: "vimage".into(),
            fds: Rc::new(std::cell::Cell::new(3)),
            stdin: io.stdin,
            stdout: io.stdout,
            stderr: io.stderr,
            intr: Rc::default(),
            env: None,
            cwd: None,
            background: false,
        }
    }

    /// The shared kernel itself (for sockets, which outlive a call).
    pub(crate) fn kernel_rc(&self) -> Rc<RefCell<Kernel>> {
        self.k.clone()
    }

    /// The kernel, borrowed for one system call; never hold it across an
    /// `.await`.
    pub fn kernel(&self) -> RefMut<'_, Kernel> {
        self.k.borrow_mut()
    }

    /// The kernel, unless it is borrowed already (for destructors, which
    /// may run while it is).
    pub fn try_kernel(&self) -> Option<RefMut<'_, Kernel>> {
        self.k.try_borrow_mut().ok()
    }

    /// Run `f` as a system call of this process: its jail's vnet is the
    /// current vnet for the call.
    pub fn with<R>(&self, f: impl FnOnce(&mut Kernel) -> R) -> Result<R, JailError> {
        let mut k = self.k.borrow_mut();
        let vnet = k.prison_vnet(self.jid)?;
        let mut cur = k.curvnet_set(vnet)?;
        Ok(f(&mut cur))
    }

    /// Run `f` inside the vnet of this process's jail (the vnet is lent out
    /// for the call and is current).
    pub fn vnet<R>(&self, f: impl FnOnce(&mut Kernel, &mut crate::vnet::Vnet) -> R) -> Result<R, String> {
        let mut k = self.k.borrow_mut();
        let id = k.prison_vnet(self.jid).map_err(|e| e.to_string())?;
        k.with_vnet(id, f).map_err(|e| e.to_string())
    }

    /// The same process, moved into another jail (what jexec does).
    pub fn in_jail(&self, jid: Jid) -> Proc {
        Proc { jid, ..self.clone() }
    }

    /// The same process with other streams.
    pub fn with_stdio(&self, io: Stdio) -> Proc {
        Proc {
            stdin: io.stdin,
            stdout: io.stdout,
            stderr: io.stderr,
            ..self.clone()
        }
    }

    /// A new process running `comm`, in this one's jail with its streams
    /// (fork and exec).
    pub fn exec(&self, comm: &str) -> Proc {
        Proc {
            pid: self.k.borrow_mut().alloc_pid(),
            comm: comm.into(),
            fds: Rc::new(std::cell::Cell::new(3)),
            ..self.clone()
        }
    }

    /// The lowest free descriptor (they are never closed: a new one each).
    pub fn fdalloc(&self) -> u32 {
        let fd = self.fds.get();
        self.fds.set(fd + 1);
        fd
    }

    /// Start another process that runs beside this one.
    pub fn spawn(&self, fut: TaskFuture) -> TaskId {
        self.exec.spawn(fut)
    }

    /// The executor its processes run on (to watch, kill or reap them).
    pub fn tasks(&self) -> &Executor {
        &self.exec
    }

    pub fn now(&self) -> Time {
        self.k.borrow().now()
    }

    /// Wait for `d` of (virtual or real) time.
    pub fn sleep(&self, d: Duration) -> Sleep {
        let until = self.now().saturating_add(d);
        self.sleep_until(until)
    }

    /// Run `f` for at most `d` (for ever without one): `None` if time ran
    /// out first.
    pub async fn timeout<F: Future>(&self, d: Option<Duration>, f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        let mut sleep = d.map(|d| self.sleep(d));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(x) = f.as_mut().poll(cx) {
                return Poll::Ready(Some(x));
            }
            match sleep.as_mut().map(|s| Pin::new(s).poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(None),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Let what is due at this instant happen first (processes ready to
    /// run, timers set for now), then go on: a turn of the engine that
    /// lets no time pass.
    pub async fn settle(&self) {
        let mut timer = None;
        std::future::poll_fn(|cx| {
            if timer.is_some() {
                return Poll::Ready(());
            }
            let mut k = self.k.borrow_mut();
            let now = k.now();
            timer = Some(k.timeout_at(now, Action::Wake(cx.waker().clone())));
            Poll::Pending
        })
        .await
    }

    /// Wait until the clock reads `until`.
    pub fn sleep_until(&self, until: Time) -> Sleep {
        Sleep {
            k: self.k.clone(),
            until,
            timer: None,
        }
    }
}

/// The future [`Proc::sleep`] returns.
pub struct Sleep {
    k: Rc<RefCell<Kernel>>,
    until: Time,
    timer: Option<TimerId>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut k = self.k.borrow_mut();
        if k.now() >= self.until {
            drop(k);
            self.timer = None;
            return Poll::Ready(());
        }
        if self.timer.is_none_or(|t| !k.callout.pending(t)) {
            let t = k.timeout_at(self.until, Action::Wake(cx.waker().clone()));
            drop(k);
            self.timer = Some(t);
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(t), Ok(mut k)) = (self.timer, self.k.try_borrow_mut()) {
            k.untimeout(t);
        }
    }
}

/// The future [`Proc::until`] returns.
pub struct Until<F> {
    k: Rc<RefCell<Kernel>>,
    deadline: Option<Time>,
    timer: Option<TimerId>,
    ready: F,
}

impl<T, F: FnMut(&std::task::Waker) -> Option<T> + Unpin> Future for Until<F> {
    type Output = Option<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(x) = (self.ready)(cx.waker()) {
            return Poll::Ready(Some(x));
        }
        let mut k = self.k.borrow_mut();
        let Some(d) = self.deadline else { return Poll::Pending };
        if k.now() >= d {
            return Poll::Ready(None);
        }
        if self.timer.is_none_or(|t| !k.callout.pending(t)) {
            let t = k.timeout_at(d, Action::Wake(cx.waker().clone()));
            drop(k);
            self.timer = Some(t);
        }
        Poll::Pending
    }
}

impl<F> Drop for Until<F> {
    fn drop(&mut self) {
        if let (Some(t), Ok(mut k)) = (self.timer, self.k.try_borrow_mut()) {
            k.untimeout(t);
        }
    }
}

impl Proc {
    /// Wait until `ready` yields something (it is polled with the task's
    /// waker, which it registers wherever the news will come from), or
    /// until `deadline` (`None` once it passes; never, without one).
    pub fn until<T, F: FnMut(&std::task::Waker) -> Option<T> + Unpin>(
        &self,
        deadline: Option<Time>,
        ready: F,
    ) -> Until<F> {
        Until {
            k: self.k.clone(),
            deadline,
            timer: None,
            ready,
        }
    }
}

/// `println!` to a process's standard output.
#[macro_export]
macro_rules! outln {
    ($p:expr) => { $p.stdout.write_fmt(format_args!("\n")) };
    ($p:expr, $($a:tt)*) => { $p.stdout.write_fmt(format_args!("{}\n", format_args!($($a)*))) };
}

/// `eprintln!` to a process's standard error.
#[macro_export]
macro_rules! errln {
    ($p:expr, $($a:tt)*) => { $p.stderr.write_fmt(format_args!("{}\n", format_args!($($a)*))) };
}
