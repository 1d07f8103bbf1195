//! The daemon: one host under the real clock on this (the engine's)
//! thread; an accepting thread; per connection a reader thread (HELLO,
//! the request, standard input, the end) and a writer thread (replies
//! to frames). Requests reach the engine as messages with a nudge
//! ([`Ext::Wake`]); a command's output goes straight to its writer.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::LabRequest;
use super::proto::{self, Kind, VERSION};
use crate::host::Host;
use crate::kern::clock::{ClockKind, parse_duration};
use crate::kern::jail::Jid;
use crate::kern::pipe::{PIPE_CREDIT, Pipe};
use crate::kern::proc::{In, Intr, Out, Proc, Stdio};
use crate::kern::task::{Executor, INTERRUPTED, TaskId};
use crate::kern::{Config, Ext};
use crate::lab::{self, Lab, Options, Record};
use crate::userland;

/// What a connection asks of the engine.
pub(crate) enum Msg {
    Run {
        conn: u64,
        argv: Vec<String>,
        stdin: Arc<Pipe>,
        reply: Replies,
    },
    Lab {
        conn: u64,
        req: LabRequest,
        reply: Replies,
    },
    /// ^C at the client: the command's SIGINT.
    Intr(u64),
    /// The connection ended: stop what it runs.
    Gone(u64),
    /// `vimage daemon stop` (or a signal to the daemon: no one to answer).
    Stop(Option<Replies>),
}

/// A connection's command.
struct Job {
    task: TaskId,
    intr: Rc<Intr>,
    reply: Replies,
}

/// The commands connections run (the daemon's clients; the vimage
/// commands a host shell in a jail runs, docs/HOST_PROGRAMS.md).
#[derive(Default)]
pub(crate) struct Jobs(HashMap<u64, Job>);

impl Jobs {
    /// Run, interrupt or stop what `m` asks, as a process `proc` makes
    /// from the connection's streams; what is not about a command (a lab,
    /// stop) is given back.
    pub(crate) fn take(&mut self, tasks: &Executor, m: Msg, proc: impl FnOnce(Stdio) -> Proc) -> Option<Msg> {
        match m {
            Msg::Run {
                conn,
                argv,
                stdin,
                reply,
            } => {
                let io = Stdio {
                    stdin: In::pipe(stdin),
                    stdout: reply.stream(false),
                    stderr: reply.stream(true),
                };
                let p = proc(io);
                let intr = p.intr.clone();
                let cmd = userland::run(p, argv);
                let r = reply.clone();
                let task = tasks.spawn(Box::pin(async move {
                    let st = cmd.await;
                    r.send(Reply::Exit(st));
                    st
                }));
                self.0.insert(conn, Job { task, intr, reply });
            }
            Msg::Intr(conn) => {
                if let Some(j) = self.0.get(&conn)
                    && tasks.status(j.task).is_none()
                    && !j.intr.raise()
                {
                    tasks.kill_with(j.task, INTERRUPTED);
                    j.reply.send(Reply::Exit(INTERRUPTED));
                }
            }
            Msg::Gone(conn) => {
                if let Some(j) = self.0.remove(&conn) {
                    tasks.kill(j.task);
                    tasks.reap(j.task);
                }
            }
            m => return Some(m),
        }
        None
    }

    /// Refuse a request that is not for this end.
    pub(crate) fn refuse(m: Msg, why: &str) {
        if let Msg::Lab { reply, .. } | Msg::Stop(Some(reply)) = m {
            reply.send(Reply::Error(why.to_string()));
        }
    }
}

/// What goes back to a client.
enum Reply {
    Hello,
    Out(Vec<u8>),
    Err(Vec<u8>),
    Want(usize),
    Exit(i32),
    Error(String),
}

/// Output a client has not read yet, past which its command's further
/// output is refused (and the client told): memory stays bounded.
const BACKLOG_MAX: usize = 64 << 20;

/// A connection's way back: replies to its writer thread, and how many
/// bytes of output wait there unread.
#[derive(Clone)]
pub(crate) struct Replies {
    tx: mpsc::Sender<Reply>,
    backlog: Arc<AtomicUsize>,
}

impl Replies {
    fn send(&self, r: Reply) {
        let _ = self.tx.send(r);
    }

    /// Output for the client (standard error if `err`), refused past
    /// [`BACKLOG_MAX`] unread.
    fn output(&self, b: &[u8], err: bool) -> std::io::Result<()> {
        let queued = self.backlog.fetch_add(b.len(), Ordering::Relaxed);
        if queued > BACKLOG_MAX {
            self.backlog.fetch_sub(b.len(), Ordering::Relaxed);
            if queued < usize::MAX / 2 {
                // Once: tell the client, then refuse for good.
                self.backlog.store(usize::MAX / 2, Ordering::Relaxed);
                let mb = BACKLOG_MAX >> 20;
                self.send(Reply::Error(format!(
                    "the client read none of {mb} MB of output: output stopped"
                )));
            }
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let r = if err {
            Reply::Err(b.to_vec())
        } else {
            Reply::Out(b.to_vec())
        };
        self.tx.send(r).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }

    /// A command's output stream to the client.
    fn stream(&self, err: bool) -> Out {
        Out::new(ToClient(self.clone(), err))
    }
}

/// A command's output stream: each write becomes a frame.
struct ToClient(Replies, bool);

impl Write for ToClient {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.output(b, self.1).map(|()| b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The socket file: removed when the daemon ends, however it ends — if
/// it is still ours (a daemon started since may have its own there).
struct Unlink<'a>(&'a Path, Option<(u64, u64)>);

impl Unlink<'_> {
    fn id(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    fn unlink(&self) {
        if self.1.is_some() && Unlink::id(self.0) == self.1 {
            let _ = std::fs::remove_file(self.0);
        }
    }
}

impl Drop for Unlink<'_> {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// Listen on `path` and serve until `vimage daemon stop`. The exit status.
pub fn serve(path: &Path, seed: u64) -> i32 {
    let listener = match listen(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vimage: daemon: {}: {e}", path.display());
            return 1;
        }
    };
    eprintln!(
        "vimage: daemon {} listening on {} (control protocol {VERSION})",
        std::process::id(),
        path.display()
    );
    let host = Host::new(Config {
        clock: ClockKind::Real,
        seed,
        ..Config::default()
    });
    let unlink = Unlink(path, Unlink::id(path));
    let (tx, rx) = mpsc::channel::<Msg>();
    let nudge = host.kernel().ext_sender();
    {
        // SIGINT, SIGTERM, SIGHUP: stop cleanly. Blocked in every thread
        // (threads made from here on inherit the mask) and taken by one
        // that waits for them: no code runs in a signal handler.
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(sig);
        }
        if set.thread_block().is_ok() {
            let (tx, nudge) = (tx.clone(), nudge.clone());
            std::thread::spawn(move || {
                if set.wait().is_ok() {
                    let _ = tx.send(Msg::Stop(None));
                    let _ = nudge.send(Ext::Wake);
                }
            });
        }
    }
    std::thread::spawn(move || {
        for (conn, s) in (1u64..).zip(listener.incoming()) {
            match s {
                Ok(s) => {
                    let (tx, nudge) = (tx.clone(), nudge.clone());
                    std::thread::spawn(move || {
                        connection(conn, s, tx, move || {
                            let _ = nudge.send(Ext::Wake);
                        })
                    });
                }
                // Out of descriptors, say: wait rather than spin.
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    });
    let mut jobs = Jobs::default();
    while let Some(m) = host.run_until_message(&rx) {
        let Some(m) = jobs.take(host.tasks(), m, |io| host.proc(Jid::HOST, io)) else {
            continue;
        };
        match m {
            Msg::Lab { conn, req, reply } => {
                if let Some(task) = load_lab(&host, req, reply.clone()) {
                    let intr = Rc::default();
                    jobs.0.insert(conn, Job { task, intr, reply });
                }
            }
            Msg::Stop(reply) => {
                // Gone from the path first: a new daemon may start at once.
                unlink.unlink();
                if let Some(r) = reply {
                    r.send(Reply::Exit(0));
                }
                break;
            }
            _ => {}
        }
    }
    host.tasks().kill_all();
    // Let the last writer say EXIT before the process ends.
    std::thread::sleep(Duration::from_millis(50));
    0
}

/// Bind the socket, user-only. A socket file nobody answers on is a
/// leftover of a daemon that died: replace it; one that answers is a
/// daemon running: refuse.
fn listen(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "a daemon already listens here (vimage daemon stop)",
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Bound inside a directory only we may enter, made 0600, then moved
    // into place: nobody else can connect in between.
    let dir = path.with_extension(format!("new-{}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let tmp = dir.join("sock");
    let bound = UnixListener::bind(&tmp).and_then(|l| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_dir(&dir);
    bound
}

/// Build the lab into the daemon's host and play its timeline as a
/// process; its records go to the client as each command ends.
fn load_lab(host: &Host, req: LabRequest, reply: Replies) -> Option<TaskId> {
    let fail = |msg: String, st: i32| {
        let _ = reply.output(format!("vimage: {msg}\n").as_bytes(), true);
        reply.send(Reply::Exit(st));
        None
    };
    let until = match req.until.as_deref().map(parse_duration) {
        Some(Err(e)) => return fail(format!("--until: {e}"), 2),
        Some(Ok(d)) => Some(d),
        None => None,
    };
    let lab = match Lab::parse(&req.file, &req.text) {
        Ok(l) => l,
        Err(e) => return fail(e.to_string(), 2),
    };
    let built = match lab::build(host, &lab) {
        Ok(b) => b,
        Err(e) => return fail(format!("{}: {e}", req.file), 1),
    };
    if !req.json {
        let head = lab::cli::summary(&lab, &req.file, "the daemon's real clock");
        let _ = reply.output(format!("{head}\n").as_bytes(), false);
    }
    let opts = Options {
        until,
        pcap: req.pcap,
        keep_servers: true,
    };
    let emit: lab::run::Emit = {
        let reply = reply.clone();
        Rc::new(move |r: Record| {
            let text = if req.json {
                serde_json::to_string(&r).unwrap_or_default() + "\n"
            } else {
                lab::format(&[r])
            };
            let _ = reply.output(text.as_bytes(), false);
        })
    };
    let p = host.proc(Jid::HOST, Stdio::null_all());
    let play = lab::run::play(p, Rc::new(lab), Rc::new(built), opts, emit);
    Some(host.tasks().spawn(Box::pin(async move {
        let st = i32::from(!play.await);
        reply.send(Reply::Exit(st));
        st
    })))
}

/// One connection: the handshake, the request, then standard input (and
/// ^Cs) until the client is done or gone.
pub(crate) fn connection(conn: u64, s: UnixStream, tx: mpsc::Sender<Msg>, wake: impl Fn()) {
    let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
    let reply = Replies {
        tx: reply_tx,
        backlog: Arc::new(AtomicUsize::new(0)),
    };
    let Ok(w) = s.try_clone() else { return };
    {
        let backlog = reply.backlog.clone();
        std::thread::spawn(move || writer(w, reply_rx, &backlog));
    }
    let mut r = s;
    // A client that says nothing does not hold its threads for ever.
    let _ = r.set_read_timeout(Some(Duration::from_secs(30)));
    let send = |m: Msg| {
        let _ = tx.send(m);
        wake();
    };
    let refuse = |msg: String| {
        reply.send(Reply::Error(msg));
    };
    match proto::recv_max(&mut r, 4) {
        Ok(Some((Kind::Hello, v))) => match proto::u32_of(&v) {
            Some(VERSION) => {
                reply.send(Reply::Hello);
            }
            v => {
                return refuse(format!(
                    "this daemon speaks control protocol {VERSION}, the client {}: use the same vimage for both",
                    v.map_or("?".into(), |v| v.to_string())
                ));
            }
        },
        Ok(Some((k, _))) => return refuse(format!("malformed request: {k:?} before HELLO")),
        Ok(None) => return,
        Err(e) => return refuse(format!("malformed request: {e}")),
    }
    let stdin = {
        let reply = reply.clone();
        Pipe::new(move |n| reply.send(Reply::Want(n)))
    };
    match proto::recv(&mut r) {
        Ok(Some((Kind::Argv, b))) => match serde_json::from_slice::<Vec<String>>(&b) {
            Ok(argv) if !argv.is_empty() => send(Msg::Run {
                conn,
                argv,
                stdin: stdin.clone(),
                reply: reply.clone(),
            }),
            Ok(_) => return refuse("malformed request: no command".into()),
            Err(e) => return refuse(format!("malformed request: ARGV: {e}")),
        },
        Ok(Some((Kind::Lab, b))) => match serde_json::from_slice::<LabRequest>(&b) {
            Ok(req) => send(Msg::Lab {
                conn,
                req,
                reply: reply.clone(),
            }),
            Err(e) => return refuse(format!("malformed request: LAB: {e}")),
        },
        Ok(Some((Kind::Stop, _))) => return send(Msg::Stop(Some(reply))),
        Ok(Some((k, _))) => return refuse(format!("malformed request: {k:?} is not a request")),
        Ok(None) => return,
        Err(e) => return refuse(format!("malformed request: {e}")),
    }
    // The command may wait for its input as long as it likes.
    let _ = r.set_read_timeout(None);
    loop {
        match proto::recv_max(&mut r, PIPE_CREDIT) {
            Ok(Some((Kind::Stdin, b))) => {
                if let Err(e) = stdin.write(&b) {
                    refuse(format!("malformed request: {e}"));
                    break;
                }
                wake();
            }
            Ok(Some((Kind::StdinEnd, _))) => {
                stdin.close();
                wake();
            }
            Ok(Some((Kind::Intr, _))) => send(Msg::Intr(conn)),
            Ok(Some((k, _))) => {
                refuse(format!("malformed request: unexpected {k:?}"));
                break;
            }
            Ok(None) => break,
            Err(e) => {
                refuse(format!("malformed request: {e}"));
                break;
            }
        }
    }
    stdin.close();
    send(Msg::Gone(conn));
}

/// Replies to frames (output in chunks of at most [`proto::CHUNK`]),
/// until EXIT or ERROR (then the connection closes, which the reader
/// sees and reports).
fn writer(mut w: UnixStream, rx: mpsc::Receiver<Reply>, backlog: &AtomicUsize) {
    for r in rx {
        let (kind, payload, last) = match r {
            Reply::Hello => (Kind::Hello, VERSION.to_be_bytes().to_vec(), false),
            Reply::Out(b) => (Kind::Out, b, false),
            Reply::Err(b) => (Kind::Err, b, false),
            Reply::Want(n) => (Kind::Want, (n as u32).to_be_bytes().to_vec(), false),
            Reply::Exit(st) => (Kind::Exit, st.to_be_bytes().to_vec(), true),
            Reply::Error(m) => (Kind::Error, m.into_bytes(), true),
        };
        let sent = payload
            .chunks(proto::CHUNK)
            .try_for_each(|c| proto::send(&mut w, kind, c))
            .and_then(|()| {
                if payload.is_empty() {
                    proto::send(&mut w, kind, &[])
                } else {
                    Ok(())
                }
            });
        if matches!(kind, Kind::Out | Kind::Err) {
            backlog.fetch_sub(payload.len().min(backlog.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
        if sent.is_err() || last {
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}
