//! The host: a kernel plus the engine that drives it — the library's front
//! door. The shell, the demo and the tests are thin layers over it.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use crate::kern::clock::{ClockKind, Time};
use crate::kern::jail::Jid;
use crate::kern::proc::{In, Intr, Out, Proc, Stdio};
use crate::kern::task::{Executor, TaskId};
use crate::kern::{Config, Kernel};
use crate::userland;

/// How long the network may run after a command, to deliver what it sent.
const SETTLE_MAX: Duration = Duration::from_millis(1);

/// What a finished command left: its exit status and what it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// The engine could not go on: the virtual clock has no event left, yet
/// the command waited for one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("would wait forever: nothing is left to happen under the virtual clock")]
pub struct Stalled;

/// A host: the kernel (vnet0 and prison0 from the start), its processes
/// and its clock. Dropping it tears everything down.
///
/// ```
/// use vimage::Host;
///
/// let host = Host::new(Default::default());
/// assert!(host.exec("jail -c name=r1 vnet persist host.hostname=r1").success());
/// let out = host.exec("jexec r1 sysctl net.inet.ip.forwarding=1");
/// assert_eq!(out.stdout, "net.inet.ip.forwarding: 0 -> 1\n");
/// // vnet0 is untouched: every vnet has its own copy.
/// assert_eq!(host.exec("sysctl -n net.inet.ip.forwarding").stdout, "0\n");
/// assert_eq!(host.exec("jexec r1 hostname").stdout, "r1\n");
/// // Time passes only when the engine runs it: one second, instantly.
/// host.exec("sleep 1");
/// assert_eq!(host.now().as_secs_f64(), 1.0);
/// ```
pub struct Host {
    k: Rc<RefCell<Kernel>>,
    exec: Executor,
}

impl Drop for Host {
    /// Tear everything down: processes first (closing what they hold:
    /// capture files, sockets), then the kernel with every vnet.
    fn drop(&mut self) {
        self.exec.kill_all();
    }
}

impl Host {
    /// Boot a host.
    pub fn new(cfg: Config) -> Host {
        Host {
            k: Rc::new(RefCell::new(Kernel::new(&cfg))),
            exec: Executor::default(),
        }
    }

    /// The kernel, for direct use of the API (never hold it while the
    /// engine runs).
    pub fn kernel(&self) -> RefMut<'_, Kernel> {
        self.k.borrow_mut()
    }

    pub fn now(&self) -> Time {
        self.k.borrow().now()
    }

    /// A process in jail `jid` with the given streams.
    pub fn proc(&self, jid: Jid, io: Stdio) -> Proc {
        Proc::new(self.k.clone(), self.exec.clone(), jid, io)
    }

    /// Start a command (`argv[0]` names it) as a process of prison0.
    pub fn spawn(&self, argv: Vec<String>, io: Stdio) -> TaskId {
        self.spawn_fg(argv, io).0
    }

    /// Start a command in the foreground: also its terminal's interrupt,
    /// for [`Host::wait_fg`].
    pub fn spawn_fg(&self, argv: Vec<String>, io: Stdio) -> (TaskId, Rc<Intr>) {
        let p = self.proc(Jid::HOST, io);
        let intr = p.intr.clone();
        (self.exec.spawn(userland::run(p, argv)), intr)
    }

    /// Drive the engine until foreground task `id` ends, passing each ^C
    /// ([`SIGINT`](crate::kern::SIGINT)) on as its interrupt: a command
    /// that catches it ends its own way (ping prints its statistics), any
    /// other is stopped.
    pub fn wait_fg(&self, id: TaskId, intr: &Intr) -> Result<i32, Stalled> {
        use std::sync::atomic::Ordering::Relaxed;
        loop {
            self.run(None, || {
                self.exec.status(id).is_some() || crate::kern::SIGINT.load(Relaxed)
            })?;
            if self.exec.status(id).is_some() {
                return Ok(self.exec.reap(id).unwrap_or(0));
            }
            if crate::kern::SIGINT.swap(false, Relaxed) && !intr.raise() {
                self.exec.kill_with(id, crate::kern::task::INTERRUPTED);
            }
        }
    }

    /// The executor (to kill or reap tasks).
    pub fn tasks(&self) -> &Executor {
        &self.exec
    }

    /// Run a command line on the host, as the shell would (quotes, `&`,
    /// `>`, `>>`, `<`), and return what a foreground command printed and
    /// its exit status. A background job keeps running.
    pub fn exec(&self, line: &str) -> Output {
        let (out, obuf) = Out::buffer();
        let (err, ebuf) = Out::buffer();
        let mut sh = userland::shell::Shell::new(self, out, err);
        sh.run_line(line);
        let text = |b: &Rc<RefCell<Vec<u8>>>| String::from_utf8_lossy(&b.borrow()).into_owned();
        Output {
            status: sh.last_status(),
            stdout: text(&obuf),
            stderr: text(&ebuf),
        }
    }

    /// Run a command given as words, and return what it printed.
    pub fn exec_argv<S: Into<String>>(&self, argv: impl IntoIterator<Item = S>) -> Output {
        let (stdout, out) = Out::buffer();
        let (stderr, err) = Out::buffer();
        let io = Stdio {
            stdin: In::null(),
            stdout,
            stderr,
        };
        let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
        let name = argv.first().cloned().unwrap_or_default();
        let id = self.spawn(argv, io);
        let status = match self.wait(id) {
            Ok(s) => s,
            Err(e) => {
                self.exec.kill(id);
                self.exec.reap(id);
                err.borrow_mut()
                    .extend_from_slice(format!("vimage: {name}: {e}\n").as_bytes());
                1
            }
        };
        let text = |b: &Rc<RefCell<Vec<u8>>>| String::from_utf8_lossy(&b.borrow()).into_owned();
        Output {
            status,
            stdout: text(&out),
            stderr: text(&err),
        }
    }

    /// Drive the engine until task `id` ends; returns its exit status.
    pub fn wait(&self, id: TaskId) -> Result<i32, Stalled> {
        self.run(None, || self.exec.status(id).is_some())?;
        Ok(self.exec.reap(id).unwrap_or(0))
    }

    /// The blocking flavour of everything async: run `f` as a task and
    /// drive the engine (and every other task) until it is done.
    ///
    /// ```
    /// use vimage::socket::{TcpListener, TcpStream};
    /// # let host = vimage::Host::new(Default::default());
    /// # let p = host.proc(vimage::Jid::HOST, vimage::Stdio::null_all());
    /// let l = TcpListener::bind(&p, "127.0.0.1:80".parse().unwrap()).unwrap();
    /// let mut c = host.block_on(TcpStream::connect(&p, "127.0.0.1:80".parse().unwrap())).unwrap().unwrap();
    /// let (mut s, _) = host.block_on(l.accept()).unwrap().unwrap();
    /// host.block_on(c.write_all(b"hi")).unwrap().unwrap();
    /// let mut b = [0u8; 2];
    /// host.block_on(s.read_exact(&mut b)).unwrap().unwrap();
    /// assert_eq!(&b, b"hi");
    /// ```
    pub fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, Stalled> {
        // Polled after every turn of the engine (its own waker is never
        // needed: whatever it waits for happens in a turn).
        let out = std::cell::RefCell::new(None);
        let f = std::cell::RefCell::new(Box::pin(f));
        let r = self.run(None, || {
            if out.borrow().is_some() {
                return true;
            }
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(x) = f.borrow_mut().as_mut().poll(&mut cx) {
                *out.borrow_mut() = Some(x);
                return true;
            }
            false
        });
        r?;
        out.borrow_mut().take().ok_or(Stalled)
    }

    /// Drive the engine until `done` holds.
    pub fn run_until(&self, done: impl Fn() -> bool) -> Result<(), Stalled> {
        self.run(None, done)
    }

    /// Drive the engine while waiting for a message from another thread
    /// (the terminal, a control socket), whose sender nudges the engine
    /// with [`Ext::Wake`](crate::kern::Ext) after each message. Under the
    /// virtual clock time stands still meanwhile; under the real clock
    /// timers fire and TAP frames come in. `None` once the sender is gone.
    pub fn run_until_message<T>(&self, rx: &mpsc::Receiver<T>) -> Option<T> {
        loop {
            self.exec.poll_ready();
            if self.clock_kind() == ClockKind::Virtual {
                return rx.recv().ok();
            }
            match rx.try_recv() {
                Ok(m) => return Some(m),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let mut k = self.k.borrow_mut();
            let next = k.next_deadline();
            k.wait_external(next);
            k.run_due();
        }
    }

    /// Let `d` of time pass (instantly under the virtual clock).
    pub fn run_for(&self, d: Duration) {
        let until = self.now().saturating_add(d);
        let _ = self.run(Some(until), || false);
    }

    /// Run until nothing is left to do: no task ready, no timer pending.
    /// Under the real clock this waits for the last timer.
    pub fn run_until_idle(&self) {
        let _ = self.run_inner(None, || false, false);
    }

    /// The engine: poll ready tasks, then jump (or wait) to the next timer
    /// and run what is due; stop when `done` holds, at `until`, or when
    /// nothing is left (an error only if `done` still waits).
    fn run(&self, until: Option<Time>, done: impl Fn() -> bool) -> Result<(), Stalled> {
        self.run_inner(until, done, true)
    }

    /// The loop itself. Under the real clock, with nothing scheduled,
    /// `wait_outside` says whether to wait for the outside world (a TAP
    /// device) or to stop as stalled.
    fn run_inner(&self, until: Option<Time>, done: impl Fn() -> bool, wait_outside: bool) -> Result<(), Stalled> {
        loop {
            self.exec.poll_ready();
            if done() {
                // Let the network settle at this instant, so the next
                // command finds what this one sent delivered.
                self.settle();
                return Ok(());
            }
            let mut k = self.k.borrow_mut();
            let now = k.now();
            if k.next_deadline().is_some_and(|t| t <= now) {
                // What is due at this instant runs before time moves on.
                k.run_due();
                continue;
            }
            if until.is_some_and(|u| now >= u) {
                return Ok(());
            }
            let target = match (k.next_deadline(), until) {
                (Some(t), Some(u)) => Some(t.min(u)),
                (t, u) => t.or(u),
            };
            let outside = k.outside.get() > 0;
            match (k.clock_kind(), target) {
                // A host program runs on its own: virtual time waits for it.
                (ClockKind::Virtual, _) if k.hold.get() > 0 => {
                    k.wait_external(None);
                }
                (ClockKind::Virtual, None) if outside => {
                    k.wait_external(None);
                }
                (ClockKind::Virtual, None) => return Err(Stalled),
                (ClockKind::Virtual, Some(t)) => k.clock.advance_to(t),
                (ClockKind::Real, None) if !wait_outside && !outside => return Err(Stalled),
                (ClockKind::Real, t) => {
                    k.wait_external(t);
                }
            }
            k.run_due();
        }
    }

    /// Run what is due at the current instant, and the tasks it wakes,
    /// until nothing is left at this instant; then (virtual clock) let the
    /// frames on the lines arrive, as they would while a person types the
    /// next command — for a millisecond at most, however busy the lines.
    fn settle(&self) {
        let start = self.now();
        loop {
            loop {
                let due = {
                    let mut k = self.k.borrow_mut();
                    let now = k.now();
                    k.next_deadline().is_some_and(|t| t <= now) && k.run_due() > 0
                };
                if self.exec.poll_ready() == 0 && !due {
                    break;
                }
            }
            let mut k = self.k.borrow_mut();
            if crate::net::ifnet::ifg_ref(&k).in_flight == 0 || k.clock_kind() != ClockKind::Virtual {
                return;
            }
            match k.next_deadline() {
                Some(t) if t <= start.saturating_add(SETTLE_MAX) => {
                    k.clock.advance_to(t);
                    k.run_due();
                }
                _ => return,
            }
        }
    }

    pub fn clock_kind(&self) -> ClockKind {
        self.k.borrow().clock_kind()
    }
}
