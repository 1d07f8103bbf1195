//! Host programs' sockets in their jail's vnet (docs/HOST_PROGRAMS.md).
//! A host program run in a jail gets `libvimage_shim.so` preloaded and a
//! control socket; the broker (broker.rs) answers what the shim asks on
//! the engine's thread, and each connected socket is relayed between the
//! program's socket pair and the vnet (relay.rs).

mod broker;
mod msg;
mod relay;

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
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher::new();
    h.write(SHIM);
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("vimage-shim-{:016x}.so", h.finish()));
    if path.metadata().is_ok_and(|m| m.len() == SHIM.len() as u64) {
        return Ok(path);
    }
    let tmp = dir.join(format!("vimage-shim-{}.tmp", std::process::id()));
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
    broker::start(p.clone(), ours);
    Ok(theirs)
}
