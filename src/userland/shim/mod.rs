//! Host programs' sockets in their jail's vnet (docs/HOST_PROGRAMS.md).
//! A host program run in a jail gets `libvimage_shim.so` preloaded and a
//! control socket; the broker (broker.rs) answers what the shim asks on
//! the engine's thread, and each connected socket is relayed between the
//! program's socket pair and the vnet (relay.rs). vimage's own commands
//! are on such a program's PATH (`bin_dir`): called from it, vimage's
//! binary runs the command in the jail over the control socket
//! (`command`), so a host shell script in a jail drives the lab.

mod broker;
mod dgram;
mod ifaddrs;
mod msg;
mod relay;
mod tcp_info;

pub(crate) use crate::kern::task::Notify;

#[allow(dead_code)]
#[path = "../../../shim/src/proto.rs"]
mod proto;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;

use crate::kern::proc::Proc;

/// The shim, built by build.rs and carried in this binary.
static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libvimage_shim.so"));

/// Where a runtime file goes: `$XDG_RUNTIME_DIR`, else the temporary
/// directory.
fn runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh name in `dir` to make a file under before it is moved into
/// place: unique to this call, as threads of one process (tests, the
/// daemon's clients) may make the same file at once.
fn aside(dir: &std::path::Path, what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("{what}-{}-{n}.tmp", std::process::id()))
}

fn hash(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher::new();
    h.write(b);
    h.finish()
}

/// The shim on disk (written once, named by its hash, so versions never
/// mix): `$VIMAGE_SHIM` if set, else in `$XDG_RUNTIME_DIR` or the
/// temporary directory.
pub fn shim_path() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("VIMAGE_SHIM") {
        return Ok(PathBuf::from(p));
    }
    if SHIM.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "host programs in jails need Linux",
        ));
    }
    let dir = runtime_dir();
    let path = dir.join(format!("vimage-shim-{:016x}.so", hash(SHIM)));
    if path.metadata().is_ok_and(|m| m.len() == SHIM.len() as u64) {
        return Ok(path);
    }
    let tmp = aside(&dir, "vimage-shim");
    std::fs::write(&tmp, SHIM)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Make `cmd` (a host program for `p`, in a jail) use the jail's vnet:
/// preload the shim and give it a control socket, served from now on.
/// The returned descriptor is the program's end: keep it until the
/// program is started, then drop it.
pub fn shim_attach(p: &Proc, cmd: &mut Command) -> io::Result<OwnedFd> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    let path = shim_path()?;
    let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
    let fd = theirs.as_raw_fd();
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(old) if !old.is_empty() => format!("{}:{old}", path.display()),
        _ => path.display().to_string(),
    };
    cmd.env("LD_PRELOAD", preload);
    // vimage's commands first: `ifconfig` in a script is the jail's.
    if let Some(bin) = bin_dir() {
        let old = match cmd.get_envs().find(|(k, _)| *k == "PATH") {
            Some((_, v)) => v.map(|v| v.to_os_string()),
            None => std::env::var_os("PATH"),
        };
        let mut path = bin.into_os_string();
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            path.push(":");
            path.push(old);
        }
        cmd.env("PATH", path);
    }
    cmd.env("VIMAGE_SHIM_FD", fd.to_string());
    // SAFETY: the closure runs in the child between fork and exec and
    // only calls fcntl(2), which is async-signal-safe: it lets the
    // program (and what it runs) inherit its control socket.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let their_ino = nix::sys::stat::fstat(&theirs).map_or(0, |st| st.st_ino);
    broker::start(p.clone(), ours, their_ino);
    Ok(theirs)
}

/// Commands a program in a jail finds as the host's, not vimage's: the
/// shell (a host script's `sh -c` stays the host's), and what every
/// shell has built in.
const HOST_OWN: &[&str] = &["sh", "help", "echo", "sleep"];

/// A directory of vimage's commands (`ifconfig`, `ping`, ... links to
/// vimage's binary), for the front of a jailed program's PATH: the
/// binary running now if it is vimage, else `$VIMAGE_BIN` (a program
/// using the library); `None` if neither.
pub fn bin_dir() -> Option<PathBuf> {
    let exe = std::env::var_os("VIMAGE_BIN").map(PathBuf::from).or_else(|| {
        std::env::current_exe()
            .ok()
            .filter(|e| e.file_name().is_some_and(|n| n == "vimage"))
    })?;
    let dir = runtime_dir().join(format!("vimage-bin-{:016x}", hash(exe.as_os_str().as_encoded_bytes())));
    if dir.is_dir() {
        return Some(dir);
    }
    // Made aside and moved into place: a program never sees half of it.
    let tmp = aside(&runtime_dir(), "vimage-bin");
    let made = std::fs::create_dir_all(&tmp).and_then(|()| {
        for c in crate::userland::COMMANDS.iter().filter(|c| !HOST_OWN.contains(&c.name)) {
            std::os::unix::fs::symlink(&exe, tmp.join(c.name))?;
        }
        std::fs::rename(&tmp, &dir)
    });
    if made.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir.is_dir().then_some(dir)
}

/// vimage's binary called by a program in a jail as one of its commands
/// (`argv[0]` names it): run it in that jail, over the control socket
/// the program inherited, with this process's streams; the exit status.
/// `None` outside a jailed program.
pub fn command(argv: &[String]) -> Option<i32> {
    use std::os::unix::net::UnixStream;
    let ctl: i32 = std::env::var("VIMAGE_SHIM_FD").ok()?.parse().ok()?;
    let (ours, theirs) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vimage: {e}");
            return Some(1);
        }
    };
    let req = proto::Request {
        op: proto::OP_COMMAND,
        a: std::process::id() as i32,
        ..proto::Request::default()
    };
    if let Err(e) = msg::send(ctl, &req.encode(), Some(&OwnedFd::from(theirs))) {
        eprintln!("vimage: {}: not in a jail's program any more ({e})", argv[0]);
        return Some(1);
    }
    let payload = serde_json::to_vec(argv).unwrap_or_default();
    Some(crate::daemon::client::request(
        ours,
        crate::daemon::proto::Kind::Argv,
        &payload,
    ))
}
