//! Host programs as commands: a name vimage does not know, found on the
//! PATH (or given as a path), runs as a process of the host with its
//! standard streams joined to the command's, so a pipeline may mix
//! vimage's commands with the host's filters (`sysctl -a | grep tcp |
//! wc -l`). It sees the host's network, not the jail's.
//!
//! Under the virtual clock a foreground host program that nothing here
//! feeds any more (its input is a file, ended, or none) holds the clock
//! still until it is done, so what it takes in real time costs no virtual
//! time and a run repeats exactly.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as HostStdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Poll;

use crate::errln;
use crate::kern::proc::{HostSource, Proc};
use crate::kern::task::Notify;

/// Input waiting for the program beyond this: stop reading ours.
const FEED_MAX: usize = 1 << 20;

/// Find `name` as execvp(3) would: a path as it is, else on `PATH`.
pub fn which(name: &str, path: Option<&str>, cwd: Option<&Path>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let executable = |p: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            p.is_file()
        }
    };
    if name.contains('/') {
        let p = match cwd {
            Some(c) if !name.starts_with('/') => c.join(name),
            _ => PathBuf::from(name),
        };
        return executable(&p).then_some(p);
    }
    let path = path.map(str::to_string).or_else(|| std::env::var("PATH").ok())?;
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| executable(p))
}

/// What the program's threads hand the task.
#[derive(Default)]
struct Shared {
    /// Output chunks: (1 stdout | 2 stderr, bytes).
    out: VecDeque<(u8, Vec<u8>)>,
    /// Output streams still open.
    open: usize,
    exit: Option<i32>,
}

struct Link {
    st: Mutex<Shared>,
    notify: Arc<Notify>,
    /// Input bytes handed to the writer thread, not yet written.
    queued: AtomicUsize,
}

impl Link {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Something happened: wake the task and the engine.
    fn wake(&self) {
        self.notify.wake();
    }
}

/// Counts held in the kernel for as long as the program runs.
struct Held {
    p: Proc,
    outside: bool,
    hold: bool,
    pid: Option<u32>,
    /// It leads a process group of its own: what it forked goes with it.
    group: bool,
    exited: bool,
}

impl Held {
    fn set_hold(&mut self, on: bool) {
        if self.hold != on {
            self.hold = on;
            if let Some(k) = self.p.try_kernel() {
                k.hold.set(if on {
                    k.hold.get() + 1
                } else {
                    k.hold.get().saturating_sub(1)
                });
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.set_hold(false);
        if let (true, Some(k)) = (self.outside, self.p.try_kernel()) {
            k.outside.set(k.outside.get().saturating_sub(1));
        }
        // Killed before it ended (jail -r, ^C, kill %N): so is the program.
        #[cfg(unix)]
        if let (Some(pid), false) = (self.pid, self.exited) {
            let pid = if self.group { -(pid as i32) } else { pid as i32 };
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Run host program `path` with `argv` as command `p`.
pub async fn hostproc(p: Proc, path: PathBuf, argv: Vec<String>) -> i32 {
    let name = argv.first().cloned().unwrap_or_default();
    let mut cmd = Command::new(&path);
    cmd.args(argv.iter().skip(1));
    if let Some(env) = &p.env {
        cmd.env_clear();
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    if let Some(cwd) = &p.cwd {
        cmd.current_dir(cwd.as_ref());
    }
    let feed = matches!(p.stdin.host_source(), HostSource::Feed);
    // Off the terminal, a program leads its own process group, so that
    // killing it (jail -r, ^C, the end of a lab) ends what it forked too:
    // nginx's workers, a daemon's children. At the terminal it stays in
    // ours, the terminal's foreground group.
    let group = !matches!(p.stdin.host_source(), HostSource::Tty);
    #[cfg(unix)]
    if group {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.stdin(match p.stdin.host_source() {
        HostSource::Null => HostStdio::null(),
        HostSource::Tty => HostStdio::inherit(),
        HostSource::Feed => HostStdio::piped(),
    });
    let own = |fd| if fd { HostStdio::inherit() } else { HostStdio::piped() };
    let (out_own, err_own) = (p.stdout.host_fd() == Some(1), p.stderr.host_fd() == Some(2));
    cmd.stdout(own(out_own));
    cmd.stderr(own(err_own));
    // In a jail its sockets are the jail's vnet's (docs/HOST_PROGRAMS.md).
    #[cfg(target_os = "linux")]
    let shim = if p.jid == crate::Jid::HOST {
        None
    } else {
        match crate::userland::shim::shim_attach(&p, &mut cmd) {
            Ok(fd) => Some(fd),
            Err(e) => {
                errln!(p, "vimage: {name}: {e}");
                return 126;
            }
        }
    };
    let spawned = cmd.spawn();
    #[cfg(target_os = "linux")]
    drop(shim);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            errln!(p, "vimage: {name}: {e}");
            return 126;
        }
    };
    let link = Arc::new(Link {
        st: Mutex::new(Shared::default()),
        notify: Notify::new(&p),
        queued: AtomicUsize::new(0),
    });
    {
        let k = p.kernel();
        k.outside.set(k.outside.get() + 1);
    }
    let mut held = Held {
        p: p.clone(),
        outside: true,
        hold: false,
        pid: Some(child.id()),
        group,
        exited: false,
    };
    for (fd, stream) in [
        (1u8, child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
        (2u8, child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
    ] {
        let Some(mut r) = stream else { continue };
        link.lock().open += 1;
        let l = link.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => l.lock().out.push_back((fd, buf[..n].to_vec())),
                }
                l.wake();
            }
            l.lock().open -= 1;
            l.wake();
        });
    }
    // The writer: what the task reads from our input, into the program's.
    let mut tx = child.stdin.take().map(|mut w| {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let l = link.clone();
        std::thread::spawn(move || {
            for chunk in rx {
                let bad = w.write_all(&chunk).is_err();
                l.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
                l.wake();
                if bad {
                    break;
                }
            }
        });
        tx
    });
    {
        let l = link.clone();
        std::thread::spawn(move || {
            let st = match child.wait() {
                Ok(s) => s.code().unwrap_or_else(|| {
                    #[cfg(unix)]
                    {
                        use std::os::unix::process::ExitStatusExt;
                        128 + s.signal().unwrap_or(0)
                    }
                    #[cfg(not(unix))]
                    {
                        1
                    }
                }),
                Err(_) => 1,
            };
            l.lock().exit = Some(st);
            l.wake();
        });
    }
    if !feed {
        held.set_hold(!p.background);
    }
    let mut buf = vec![0u8; 64 << 10];
    std::future::poll_fn(|cx| {
        link.notify.register(cx.waker());
        // Feed it what we are given, within bounds.
        while tx.is_some() && link.queued.load(Ordering::Relaxed) < FEED_MAX {
            match p.stdin.poll_read(cx, &mut buf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    link.queued.fetch_add(n, Ordering::Relaxed);
                    if tx.as_ref().is_some_and(|t| t.send(buf[..n].to_vec()).is_err()) {
                        tx = None;
                    }
                }
                Poll::Pending => break,
                _ => {
                    // The end of our input: the program's ends too, and
                    // from now on it runs on its own.
                    tx = None;
                    held.set_hold(!p.background);
                }
            }
        }
        let (chunks, done) = {
            let mut st = link.lock();
            let chunks: Vec<_> = st.out.drain(..).collect();
            (chunks, st.exit.filter(|_| st.open == 0))
        };
        for (fd, c) in chunks {
            if fd == 1 {
                p.stdout.write_bytes(&c);
            } else {
                p.stderr.write_bytes(&c);
            }
        }
        match done {
            Some(st) => {
                held.exited = true;
                Poll::Ready(st)
            }
            None => Poll::Pending,
        }
    })
    .await
}
