//! UDP sockets (docs/HOST_PROGRAMS.md): the program's end of a
//! `SOCK_SEQPACKET` pair, each message one datagram behind a header that
//! names its peer (proto.rs, [`DGRAM_HDR`]). The calls that move
//! datagrams are answered here for those descriptors, scattering the
//! header to a buffer of ours and the payload straight to the program's
//! (no copy); every other descriptor goes to libc untouched, after one
//! look at a table.
//!
//! Unsafe code: as in lib.rs, libc on the caller's pointers with the
//! caller's lengths, or on our own buffers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use libc::{c_int, c_uint, c_void, iovec, mmsghdr, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::proto::*;
use super::{die, read_addr, set_errno, sock_ino, write_addr};

/// Descriptors up to this may be UDP sockets of ours.
const FD_MAX: usize = 1 << 16;

/// The inode of each descriptor that is a UDP socket of ours (0: none).
/// A stale entry (closed, the number reused) is caught by its inode.
static UDP: [AtomicU64; FD_MAX] = [const { AtomicU64::new(0) }; FD_MAX];

/// Mark `fd` a UDP socket of ours; false if its number is too high.
pub fn mark(fd: c_int, ino: u64) -> bool {
    match UDP.get(fd as usize) {
        Some(e) if fd >= 0 => {
            e.store(ino, Ordering::Relaxed);
            true
        }
        _ => false,
    }
}

/// Is `fd` a UDP socket of ours?
pub fn is_udp(fd: c_int) -> bool {
    let Some(e) = UDP.get(fd as usize).filter(|_| fd >= 0) else {
        return false;
    };
    let ino = e.load(Ordering::Relaxed);
    if ino == 0 {
        return false;
    }
    if sock_ino(fd) == Some(ino) {
        return true;
    }
    e.store(0, Ordering::Relaxed);
    false
}

/// `to` is now a copy of `from` (dup).
fn copied(from: c_int, to: c_int) {
    if to >= 0 {
        let ino = if is_udp(from) {
            UDP[from as usize].load(Ordering::Relaxed)
        } else {
            0
        };
        mark(to, ino);
    }
}

type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
type IovFn = unsafe extern "C" fn(c_int, *const iovec, c_int) -> ssize_t;
type SendFn = unsafe extern "C" fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
type RecvFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int) -> ssize_t;
type SendToFn = unsafe extern "C" fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
type RecvFromFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t;
type SendMsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;
type RecvMsgFn = unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t;
type SendMmsgFn = unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;
type RecvMmsgFn = unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int, *mut libc::timespec) -> c_int;
type ShutdownFn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type Dup2Fn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type Dup3Fn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
type DupFn = unsafe extern "C" fn(c_int) -> c_int;
type ReadChkFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, size_t) -> ssize_t;
type RecvChkFn = unsafe extern "C" fn(c_int, *mut c_void, size_t, size_t, c_int) -> ssize_t;
type RecvFromChkFn =
    unsafe extern "C" fn(c_int, *mut c_void, size_t, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t;

libc_fns!("I/O" {
    read: ReadFn,
    write: WriteFn,
    readv: IovFn,
    writev: IovFn,
    send: SendFn,
    recv: RecvFn,
    sendto: SendToFn,
    recvfrom: RecvFromFn,
    sendmsg: SendMsgFn,
    recvmsg: RecvMsgFn,
    sendmmsg: SendMmsgFn,
    recvmmsg: RecvMmsgFn,
    shutdown: ShutdownFn,
    dup: DupFn,
    dup2: Dup2Fn,
    dup3: Dup3Fn,
} optional {
    // glibc's `_FORTIFY_SOURCE` entry points (not in every libc).
    read_chk = "__read_chk": ReadChkFn,
    recv_chk = "__recv_chk": RecvChkFn,
    recvfrom_chk = "__recvfrom_chk": RecvFromChkFn,
});

/// At most this many pieces in one datagram (IOV_MAX).
const IOV_MAX: usize = 1024;

/// The program's pieces, behind one of ours.
unsafe fn iovs(head: iovec, iov: *const iovec, n: c_int) -> Result<Vec<iovec>, c_int> {
    let n = usize::try_from(n).map_err(|_| libc::EINVAL)?;
    if n > IOV_MAX || (n > 0 && iov.is_null()) {
        return Err(libc::EINVAL);
    }
    let mut v = Vec::with_capacity(n + 1);
    v.push(head);
    if n > 0 {
        // SAFETY: the caller's array of `n` iovecs.
        v.extend_from_slice(unsafe { std::slice::from_raw_parts(iov, n) });
    }
    Ok(v)
}

/// Send one datagram of the pieces `iov` to `to` (none: the connected
/// peer): the bytes sent, or -1 and errno.
unsafe fn dgram_send(fd: c_int, iov: *const iovec, n: c_int, to: Option<SocketAddr>, flags: c_int) -> ssize_t {
    let hdr = dgram_hdr(DG_DATA, 0, to);
    let head = iovec {
        iov_base: hdr.as_ptr() as *mut c_void,
        iov_len: DGRAM_HDR,
    };
    // SAFETY: the caller's pieces.
    let mut v = match unsafe { iovs(head, iov, n) } {
        Ok(v) => v,
        Err(e) => return set_errno(e) as ssize_t,
    };
    // SAFETY: a msghdr over our pieces and the caller's.
    let r = unsafe {
        let mut h: msghdr = std::mem::zeroed();
        h.msg_iov = v.as_mut_ptr();
        h.msg_iovlen = v.len();
        (real().sendmsg)(fd, &h, (flags & libc::MSG_DONTWAIT) | libc::MSG_NOSIGNAL)
    };
    if r < 0 {
        let e = super::errno();
        // vimage is gone: the network is.
        return set_errno(if e == libc::EPIPE { libc::ENETDOWN } else { e }) as ssize_t;
    }
    r - DGRAM_HDR as ssize_t
}

/// Receive one datagram into the pieces `iov`: its length (the whole
/// length with `MSG_TRUNC`), its sender in `from`, `MSG_TRUNC` in
/// `out_flags` if cut; or -1 and errno (an error vimage queued for the
/// socket: an ICMP error).
unsafe fn dgram_recv(
    fd: c_int,
    iov: *const iovec,
    n: c_int,
    flags: c_int,
    from: &mut Option<SocketAddr>,
    out_flags: &mut c_int,
) -> ssize_t {
    let mut hdr = [0u8; DGRAM_HDR];
    let head = iovec {
        iov_base: hdr.as_mut_ptr().cast(),
        iov_len: DGRAM_HDR,
    };
    // SAFETY: the caller's pieces.
    let mut v = match unsafe { iovs(head, iov, n) } {
        Ok(v) => v,
        Err(e) => return set_errno(e) as ssize_t,
    };
    let pass = flags & (libc::MSG_DONTWAIT | libc::MSG_PEEK | libc::MSG_TRUNC);
    // SAFETY: a msghdr over our header and the caller's pieces.
    let (r, got) = unsafe {
        let mut h: msghdr = std::mem::zeroed();
        h.msg_iov = v.as_mut_ptr();
        h.msg_iovlen = v.len();
        let r = (real().recvmsg)(fd, &mut h, pass);
        (r, h.msg_flags)
    };
    if r < 0 {
        return -1;
    }
    if r == 0 {
        // The pair's end: vimage is gone.
        return set_errno(libc::ENETDOWN) as ssize_t;
    }
    match dgram_parse(&hdr) {
        Some((DG_DATA, _, a)) if r as usize >= DGRAM_HDR => {
            *from = a;
            *out_flags = got & libc::MSG_TRUNC;
            r - DGRAM_HDR as ssize_t
        }
        Some((DG_ERROR, e, _)) => {
            if flags & libc::MSG_PEEK != 0 {
                // Reported once: take it off the queue.
                let mut h2 = [0u8; DGRAM_HDR];
                // SAFETY: into our own buffer.
                unsafe { (real().recv)(fd, h2.as_mut_ptr().cast(), DGRAM_HDR, libc::MSG_DONTWAIT) };
            }
            set_errno(e) as ssize_t
        }
        _ => set_errno(libc::EPROTO) as ssize_t,
    }
}

fn one(buf: *const c_void, len: size_t) -> iovec {
    iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    }
}

/// recvfrom(2) for ours.
unsafe fn recv_one(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    let iov = one(buf, len);
    let (mut from, mut f) = (None, 0);
    // SAFETY: the caller's buffer of `len` bytes, and address buffer.
    unsafe {
        let r = dgram_recv(fd, &iov, 1, flags, &mut from, &mut f);
        if r >= 0
            && let Some(a) = from
        {
            write_addr(a, addr, alen);
        }
        r
    }
}

/// sendmmsg(2) or recvmmsg(2) for ours: `one` on each entry in turn
/// (given its index) until one fails; how many went, or -1 if none.
unsafe fn each(v: *mut mmsghdr, n: c_uint, mut one: impl FnMut(&mut msghdr, c_uint) -> ssize_t) -> c_int {
    let mut done = 0;
    while done < n {
        // SAFETY: the caller's array of `n` entries.
        let e = unsafe { &mut *v.add(done as usize) };
        let r = one(&mut e.msg_hdr, done);
        if r < 0 {
            return if done > 0 { done as c_int } else { -1 };
        }
        e.msg_len = r as c_uint;
        done += 1;
    }
    done as c_int
}

/// recvmmsg(2) for ours: as many as are there once the first has come
/// (the timeout is not kept: the first waits as the socket does).
unsafe fn recvmmsg_ours(fd: c_int, v: *mut mmsghdr, n: c_uint, flags: c_int) -> c_int {
    let waitforone = flags & libc::MSG_WAITFORONE != 0;
    let flags = flags & !libc::MSG_WAITFORONE;
    // SAFETY: the caller's array and each entry's msghdr.
    unsafe {
        each(v, n, |m, i| {
            let f = if i == 0 && !waitforone {
                flags
            } else {
                flags | libc::MSG_DONTWAIT
            };
            recvmsg_ours(fd, m, f)
        })
    }
}

/// sendmmsg(2) for ours: each in turn until one fails.
unsafe fn sendmmsg_ours(fd: c_int, v: *mut mmsghdr, n: c_uint, flags: c_int) -> c_int {
    // SAFETY: the caller's array and each entry's msghdr.
    unsafe { each(v, n, |m, _| sendmsg_ours(fd, m, flags)) }
}

/// An exported stand-in for libc's function of that name: ours for a
/// UDP socket of ours, libc's for every other descriptor.
macro_rules! stand_in {
    ($(#[$m:meta])* $name:ident($fd:ident $(, $a:ident: $t:ty)*) -> $r:ty => $ours:expr) => {
        $(#[$m])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($fd: c_int $(, $a: $t)*) -> $r {
            // SAFETY: the caller's arguments, to libc's function or ours
            // (which take them with the same contract).
            unsafe {
                if !is_udp($fd) {
                    return (real().$name)($fd $(, $a)*);
                }
                $ours
            }
        }
    };
}

stand_in!(read(fd, buf: *mut c_void, len: size_t) -> ssize_t =>
    recv_one(fd, buf, len, 0, std::ptr::null_mut(), std::ptr::null_mut()));
stand_in!(recv(fd, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t =>
    recv_one(fd, buf, len, flags, std::ptr::null_mut(), std::ptr::null_mut()));
stand_in!(recvfrom(fd, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t)
    -> ssize_t => recv_one(fd, buf, len, flags, addr, alen));
stand_in!(readv(fd, iov: *const iovec, n: c_int) -> ssize_t =>
    dgram_recv(fd, iov, n, 0, &mut None, &mut 0));
stand_in!(recvmsg(fd, m: *mut msghdr, flags: c_int) -> ssize_t => recvmsg_ours(fd, m, flags));
stand_in!(recvmmsg(fd, v: *mut mmsghdr, n: c_uint, flags: c_int, timeout: *mut libc::timespec) -> c_int =>
    recvmmsg_ours(fd, v, n, flags));
stand_in!(write(fd, buf: *const c_void, len: size_t) -> ssize_t => dgram_send(fd, &one(buf, len), 1, None, 0));
stand_in!(writev(fd, iov: *const iovec, n: c_int) -> ssize_t => dgram_send(fd, iov, n, None, 0));
stand_in!(send(fd, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t =>
    dgram_send(fd, &one(buf, len), 1, None, flags));
stand_in!(sendto(fd, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, alen: socklen_t)
-> ssize_t => match to_addr(addr, alen) {
    Ok(to) => dgram_send(fd, &one(buf, len), 1, to, flags),
    Err(e) => set_errno(e) as ssize_t,
});
stand_in!(sendmsg(fd, m: *const msghdr, flags: c_int) -> ssize_t => sendmsg_ours(fd, m, flags));
stand_in!(sendmmsg(fd, v: *mut mmsghdr, n: c_uint, flags: c_int) -> c_int => sendmmsg_ours(fd, v, n, flags));
stand_in!(
    /// A UDP socket's shutdown(2) ends nothing (socat shuts its writing
    /// side at the end of its input, then waits for an answer).
    shutdown(fd, how: c_int) -> c_int => {
        let _ = how;
        0
    }
);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t) -> ssize_t {
    // SAFETY: the caller's arguments, to libc's function or ours.
    unsafe {
        match real().read_chk {
            Some(f) if !is_udp(fd) => f(fd, buf, len, buflen),
            _ if len > buflen => die("buffer overflow detected (read)"),
            _ => read(fd, buf, len),
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(fd: c_int, buf: *mut c_void, len: size_t, buflen: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the caller's arguments, to libc's function or ours.
    unsafe {
        match real().recv_chk {
            Some(f) if !is_udp(fd) => f(fd, buf, len, buflen, flags),
            _ if len > buflen => die("buffer overflow detected (recv)"),
            _ => recv(fd, buf, len, flags),
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: the caller's arguments, to libc's function or ours.
    unsafe {
        match real().recvfrom_chk {
            Some(f) if !is_udp(fd) => f(fd, buf, len, buflen, flags, addr, alen),
            _ if len > buflen => die("buffer overflow detected (recvfrom)"),
            _ => recvfrom(fd, buf, len, flags, addr, alen),
        }
    }
}

/// recvmsg(2) for ours: no control messages.
unsafe fn recvmsg_ours(fd: c_int, m: *mut msghdr, flags: c_int) -> ssize_t {
    if m.is_null() {
        return set_errno(libc::EFAULT) as ssize_t;
    }
    // SAFETY: the caller's msghdr and what it points to.
    unsafe {
        let m = &mut *m;
        let (mut from, mut f) = (None, 0);
        let r = dgram_recv(fd, m.msg_iov, m.msg_iovlen as c_int, flags, &mut from, &mut f);
        if r >= 0 {
            match from {
                Some(a) if !m.msg_name.is_null() => write_addr(a, m.msg_name.cast(), &mut m.msg_namelen),
                _ => m.msg_namelen = 0,
            }
            m.msg_controllen = 0;
            m.msg_flags = f;
        }
        r
    }
}

/// A destination: none if not given; EAFNOSUPPORT if not IP.
unsafe fn to_addr(addr: *const sockaddr, alen: socklen_t) -> Result<Option<SocketAddr>, c_int> {
    if addr.is_null() || alen == 0 {
        return Ok(None);
    }
    // SAFETY: the caller's address of `alen` bytes.
    unsafe { read_addr(addr, alen) }.map(Some).ok_or(libc::EAFNOSUPPORT)
}

/// sendmsg(2) for ours: control messages are not kept.
unsafe fn sendmsg_ours(fd: c_int, m: *const msghdr, flags: c_int) -> ssize_t {
    if m.is_null() {
        return set_errno(libc::EFAULT) as ssize_t;
    }
    // SAFETY: the caller's msghdr and what it points to.
    unsafe {
        let m = &*m;
        match to_addr(m.msg_name.cast(), m.msg_namelen) {
            Ok(to) => dgram_send(fd, m.msg_iov, m.msg_iovlen as c_int, to, flags),
            Err(e) => set_errno(e) as ssize_t,
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: libc's dup on the caller's descriptor.
    let r = unsafe { (real().dup)(fd) };
    copied(fd, r);
    r
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(fd: c_int, to: c_int) -> c_int {
    // SAFETY: libc's dup2 on the caller's descriptors.
    let r = unsafe { (real().dup2)(fd, to) };
    copied(fd, r);
    r
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(fd: c_int, to: c_int, flags: c_int) -> c_int {
    // SAFETY: libc's dup3 on the caller's descriptors.
    let r = unsafe { (real().dup3)(fd, to, flags) };
    copied(fd, r);
    r
}
