//! One message on a `SOCK_SEQPACKET` socket, a descriptor riding along
//! (`SCM_RIGHTS`, unix(7)).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Send `msg`, with `fd` if given.
pub fn send(sock: RawFd, msg: &[u8], fd: Option<&OwnedFd>) -> nix::Result<()> {
    let raw = fd.map(|f| [f.as_raw_fd()]);
    let cmsgs: Vec<ControlMessage> = raw.iter().map(|r| ControlMessage::ScmRights(&r[..])).collect();
    loop {
        match sendmsg::<()>(sock, &[IoSlice::new(msg)], &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// Receive a message (empty: the other end closed) and its descriptor.
pub fn recv(sock: RawFd, max: usize) -> nix::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; max];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC);
        let m = match r {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(m) => m,
        };
        let n = m.bytes;
        let mut fds = Vec::new();
        if let Ok(cm) = m.cmsgs() {
            for c in cm {
                if let ControlMessageOwned::ScmRights(v) = c {
                    fds.extend(v);
                }
            }
        }
        // SAFETY: descriptors the kernel just gave this process, each
        // owned by nobody else; all but the first are closed at once.
        let mut owned: Vec<OwnedFd> = fds.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }).collect();
        let first = (!owned.is_empty()).then(|| owned.remove(0));
        buf.truncate(n);
        return Ok((buf, first));
    }
}
