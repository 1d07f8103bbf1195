//! `libvimage_shim.so`: loaded with `LD_PRELOAD` into a host program that
//! runs in a vimage jail, it makes the program's `AF_INET` and
//! `AF_INET6` sockets its jail's vnet's (docs/HOST_PROGRAMS.md).
//!
//! Each such socket is one end of an `AF_UNIX` pair; vimage holds the
//! other and relays it to the vnet socket, so reads, writes, polls,
//! `dup`, `fork` and `close` need nothing from here. Only the calls that
//! name addresses or options are answered by vimage, over a channel per
//! thread (`SOCK_SEQPACKET`, one message each way).
//!
//! Unsafe code: this library *is* a C ABI. Every `unsafe` block below
//! calls libc on pointers the C caller gave us with the lengths it gave
//! (the contract of the function we stand in for), or on buffers of our
//! own whose sizes we pass; the real functions are found with
//! `dlsym(RTLD_NEXT)` and checked non-null before use.

#![allow(clippy::missing_safety_doc)]

/// `struct Real`, libc's own functions (`field: Type`, each found by
/// [`next_sym`] under the field's name; in `optional`, `field = "symbol": Type` under
/// another, `None` if this libc has none), and `real()`, which finds them
/// once. `$what` names them if one is missing.
macro_rules! libc_fns {
    ($what:literal { $($name:ident: $ty:ty,)* } $(optional { $($oname:ident = $sym:literal: $oty:ty,)* })?) => {
        /// The functions we stand in for here, as libc has them.
        struct Real {
            $($name: $ty,)*
            $($($oname: Option<$oty>,)*)?
        }

        fn real() -> &'static Real {
            static REAL: std::sync::OnceLock<Real> = std::sync::OnceLock::new();
            REAL.get_or_init(|| {
                let opt = |name: &str| std::ffi::CString::new(name).ok().and_then(|c| $crate::next_sym(&c));
                let sym = |name: &str| {
                    opt(name).unwrap_or_else(|| $crate::die(concat!("a libc ", $what, " function is missing")))
                };
                // SAFETY: each symbol is libc's function of exactly the
                // signature its field declares (POSIX's, glibc's for the
                // *_chk ones, ioctl's variadic one), and none is null.
                unsafe {
                    Real {
                        $($name: std::mem::transmute::<*mut libc::c_void, $ty>(sym(stringify!($name))),)*
                        $($($oname: opt($sym).map(|p| std::mem::transmute::<*mut libc::c_void, $oty>(p)),)*)?
                    }
                }
            })
        }
    };
}

mod dgram;
mod ifaddrs;
#[allow(dead_code)]
mod proto;

use std::cell::Cell;
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use libc::{c_char, c_int, c_void, sockaddr, socklen_t};
use proto::*;

type SocketFn = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
type AddrFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
type NameFn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
type ListenFn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type Accept4Fn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
type GetOptFn = unsafe extern "C" fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;
type SetOptFn = unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
type GaiFn =
    unsafe extern "C" fn(*const c_char, *const c_char, *const libc::addrinfo, *mut *mut libc::addrinfo) -> c_int;
type FreeAiFn = unsafe extern "C" fn(*mut libc::addrinfo);
type GetHostnameFn = unsafe extern "C" fn(*mut c_char, libc::size_t) -> c_int;
type UnameFn = unsafe extern "C" fn(*mut libc::utsname) -> c_int;

libc_fns!("socket" {
    socket: SocketFn,
    bind: AddrFn,
    connect: AddrFn,
    listen: ListenFn,
    accept4: Accept4Fn,
    getsockname: NameFn,
    getpeername: NameFn,
    getsockopt: GetOptFn,
    setsockopt: SetOptFn,
    getaddrinfo: GaiFn,
    freeaddrinfo: FreeAiFn,
    gethostname: GetHostnameFn,
    uname: UnameFn,
});

/// libc's own function `name`, the next definition after ours: what we
/// stand in for is reached only so (through `libc::` it is ours again).
fn next_sym(name: &std::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a NUL-terminated name.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn die(why: &str) -> ! {
    let msg = format!("vimage shim: {why}\n");
    // SAFETY: writing our own buffer to standard error.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::abort()
    }
}

fn set_errno(e: c_int) -> c_int {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() = e };
    -1
}

fn errno() -> c_int {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() }
}

/// One line in the kernel's log (dmesg) about what the program asked
/// that is not covered, the first time `said` is set.
fn log_once(said: &AtomicBool, what: &str, e: c_int) {
    if said.swap(true, Ordering::Relaxed) {
        return;
    }
    let req = Request {
        op: OP_LOG,
        a: e,
        data: what.as_bytes().to_vec(),
        ..Request::default()
    };
    let _ = call(&req, None);
}

/// The control socket vimage gave this process tree (`VIMAGE_SHIM_FD`);
/// none: the program is not in a jail of ours, and we stand aside.
fn control() -> Option<c_int> {
    static CONTROL: OnceLock<Option<c_int>> = OnceLock::new();
    *CONTROL.get_or_init(|| std::env::var("VIMAGE_SHIM_FD").ok()?.parse().ok())
}

thread_local! {
    /// This thread's channel to vimage: (process id, descriptor).
    static CHAN: Cell<(i32, c_int)> = const { Cell::new((0, -1)) };
    /// Sockets announced on this thread's channel (`OP_SOCKET`) whose
    /// answers are not read yet: they are read before the next call's.
    static UNREAD: std::cell::RefCell<std::collections::VecDeque<u64>> = const {
        std::cell::RefCell::new(std::collections::VecDeque::new())
    };
}

/// Sockets announced whose answers no thread has read yet, and sockets
/// vimage refused (with its errno), by inode.
fn announced() -> std::sync::MutexGuard<'static, std::collections::HashMap<u64, c_int>> {
    static ANNOUNCED: OnceLock<Mutex<std::collections::HashMap<u64, c_int>>> = OnceLock::new();
    ANNOUNCED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Sockets known to be vimage's, by the inode of our end.
fn known() -> std::sync::MutexGuard<'static, HashSet<u64>> {
    static KNOWN: OnceLock<Mutex<HashSet<u64>>> = OnceLock::new();
    KNOWN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Send `msg` on `sock`, with `fd` riding along if given.
fn send_msg(sock: c_int, msg: &[u8], fd: Option<c_int>) -> bool {
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut c_void,
        iov_len: msg.len(),
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: a msghdr over our own iovec and control buffer (32 bytes,
    // more than CMSG_SPACE of one int), filled as cmsg(3) shows.
    unsafe {
        let mut h: libc::msghdr = std::mem::zeroed();
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        if let Some(fd) = fd {
            h.msg_control = cbuf.as_mut_ptr().cast();
            h.msg_controllen = libc::CMSG_SPACE(4) as usize;
            let c = libc::CMSG_FIRSTHDR(&h);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<c_int>(), fd);
        }
        loop {
            let n = libc::sendmsg(sock, &h, libc::MSG_NOSIGNAL);
            if n >= 0 {
                return true;
            }
            if errno() != libc::EINTR {
                return false;
            }
        }
    }
}

/// Receive a message from `sock` into `buf`: its length (0: the end) and
/// the descriptor riding along, if any; `flags` for recvmsg.
fn recv_msg(sock: c_int, buf: &mut [u8], flags: c_int) -> Result<(usize, Option<c_int>), c_int> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: as in send_msg: our own buffers, read back as cmsg(3) shows.
    unsafe {
        let mut h: libc::msghdr = std::mem::zeroed();
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        h.msg_control = cbuf.as_mut_ptr().cast();
        h.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            let n = libc::recvmsg(sock, &mut h, flags);
            if n >= 0 {
                break n as usize;
            }
            let e = errno();
            if e != libc::EINTR {
                return Err(e);
            }
        };
        let c = libc::CMSG_FIRSTHDR(&h);
        let fd = (!c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS)
            .then(|| std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<c_int>()));
        Ok((n, fd))
    }
}

/// This thread's channel, made (and announced) if this thread or
/// process has none yet.
fn chan() -> Option<c_int> {
    let ctl = control()?;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let (p, fd) = CHAN.get();
    if p == pid && fd >= 0 {
        return Some(fd);
    }
    if fd >= 0 {
        // A fork's copy of the parent's channel: not ours to use.
        // SAFETY: closing a descriptor this thread owned.
        unsafe { libc::close(fd) };
    }
    let mut sv = [-1 as c_int; 2];
    // SAFETY: socketpair into our own two-int array.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    } < 0
    {
        return None;
    }
    let hello = Request {
        op: OP_HELLO,
        a: pid,
        ..Request::default()
    };
    let sent = send_msg(ctl, &hello.encode(), Some(sv[1]));
    // SAFETY: our far end went to vimage (or could not): ours closes.
    unsafe { libc::close(sv[1]) };
    if !sent {
        // SAFETY: closing our own end.
        unsafe { libc::close(sv[0]) };
        return None;
    }
    CHAN.set((pid, sv[0]));
    // A fork's child: what its parent announced is answered to the parent.
    UNREAD.with_borrow_mut(|u| u.clear());
    Some(sv[0])
}

/// Ask vimage; the answer and the descriptor it sent, or an errno.
fn call(req: &Request, fd: Option<c_int>) -> Result<(Answer, Option<c_int>), c_int> {
    let Some(ch) = chan() else { return Err(libc::ENETDOWN) };
    for tries in 0.. {
        if !send_msg(ch, &req.encode(), fd) {
            return Err(libc::ENETDOWN);
        }
        read_unread(ch)?;
        let r = answer(ch);
        if r != Err(libc::ENOTSOCK) || req.ino == 0 {
            return r;
        }
        match announced().get(&req.ino) {
            // Refused when it was made.
            Some(&e) if e != 0 => return Err(e),
            // Announced by another thread, not yet seen by vimage: soon.
            Some(_) if tries < 200 => std::thread::sleep(std::time::Duration::from_micros(500)),
            _ => return r,
        }
    }
    Err(libc::ENOTSOCK)
}

/// Announce a new socket without waiting for the answer (read with the
/// next call's): a connection costs one round trip less.
fn announce(req: &Request, far: c_int) -> bool {
    let Some(ch) = chan() else { return false };
    announced().insert(req.ino, 0);
    if !send_msg(ch, &req.encode(), Some(far)) {
        announced().remove(&req.ino);
        return false;
    }
    UNREAD.with_borrow_mut(|u| u.push_back(req.ino));
    true
}

/// Read the answers to this thread's announcements.
fn read_unread(ch: c_int) -> Result<(), c_int> {
    while let Some(ino) = UNREAD.with_borrow_mut(|u| u.pop_front()) {
        let e = match answer(ch) {
            Ok((_, fd)) => {
                if let Some(f) = fd {
                    // SAFETY: a descriptor we were given and will not use.
                    unsafe { libc::close(f) };
                }
                0
            }
            Err(libc::ENETDOWN) => return Err(libc::ENETDOWN),
            Err(e) => e,
        };
        let mut a = announced();
        if e == 0 {
            a.remove(&ino);
        } else {
            a.insert(ino, e);
            known().remove(&ino);
        }
    }
    Ok(())
}

/// The next answer on `ch`.
fn answer(ch: c_int) -> Result<(Answer, Option<c_int>), c_int> {
    let mut buf = vec![0u8; MSG_MAX];
    match recv_msg(ch, &mut buf, libc::MSG_CMSG_CLOEXEC) {
        Ok((0, _)) | Err(_) => Err(libc::ENETDOWN),
        Ok((n, got)) => match Answer::decode(&buf[..n]) {
            Some(a) if a.errno != 0 => {
                if let Some(f) = got {
                    // SAFETY: a descriptor we were given and will not use.
                    unsafe { libc::close(f) };
                }
                Err(a.errno)
            }
            Some(a) => Ok((a, got)),
            None => Err(libc::EPROTO),
        },
    }
}

/// The inode of `fd` if it is a socket.
fn sock_ino(fd: c_int) -> Option<u64> {
    // SAFETY: fstat into our own zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } < 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    Some(st.st_ino)
}

/// Is `fd` one of vimage's sockets? Its inode if so.
fn ours(fd: c_int) -> Option<u64> {
    control()?;
    let ino = sock_ino(fd)?;
    if known().contains(&ino) {
        return Some(ino);
    }
    // Passed to us over exec or SCM_RIGHTS: vimage knows.
    let mut dom: c_int = 0;
    let mut len = 4 as socklen_t;
    // SAFETY: the real getsockopt into our own int.
    let r = unsafe {
        (real().getsockopt)(
            fd,
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut dom as *mut c_int).cast(),
            &mut len,
        )
    };
    if r < 0 || dom != libc::AF_UNIX {
        return None;
    }
    let req = Request {
        op: OP_IS,
        ino,
        ..Request::default()
    };
    let (a, _) = call(&req, None).ok()?;
    if a.val == libc::SOCK_DGRAM {
        dgram::mark(fd, ino);
    }
    known().insert(ino);
    Some(ino)
}

/// A C socket address, read (IPv4 or IPv6 only).
unsafe fn read_addr(a: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
    if a.is_null() {
        return None;
    }
    // SAFETY: the caller's address of `len` bytes; each cast is checked
    // against that length first.
    unsafe {
        match (*a).sa_family as c_int {
            libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                let s = &*(a as *const libc::sockaddr_in);
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr)),
                    u16::from_be(s.sin_port),
                )))
            }
            libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let s = &*(a as *const libc::sockaddr_in6);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(s.sin6_addr.s6_addr),
                    u16::from_be(s.sin6_port),
                    s.sin6_flowinfo,
                    s.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Write `a` to the caller's buffer as getsockname(2) does: truncated
/// to `*len`, `*len` set to the full size.
unsafe fn write_addr(a: SocketAddr, out: *mut sockaddr, len: *mut socklen_t) {
    if out.is_null() || len.is_null() {
        return;
    }
    // SAFETY: a sockaddr of ours copied into the caller's `*len` bytes.
    unsafe {
        let mut st: libc::sockaddr_storage = std::mem::zeroed();
        let n = match a {
            SocketAddr::V4(v) => {
                let s = &mut *(&mut st as *mut _ as *mut libc::sockaddr_in);
                s.sin_family = libc::AF_INET as libc::sa_family_t;
                s.sin_port = v.port().to_be();
                s.sin_addr.s_addr = u32::from(*v.ip()).to_be();
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v) => {
                let s = &mut *(&mut st as *mut _ as *mut libc::sockaddr_in6);
                s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                s.sin6_port = v.port().to_be();
                s.sin6_addr.s6_addr = v.ip().octets();
                s.sin6_flowinfo = v.flowinfo();
                s.sin6_scope_id = v.scope_id();
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        let room = (*len as usize).min(n);
        std::ptr::copy_nonoverlapping(
            (&st as *const libc::sockaddr_storage).cast::<u8>(),
            out.cast::<u8>(),
            room,
        );
        *len = n as socklen_t;
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let inet = domain == libc::AF_INET || domain == libc::AF_INET6;
    if !inet || control().is_none() {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().socket)(domain, ty, protocol) };
    }
    let flags = ty & (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    let base = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
    let udp = base == libc::SOCK_DGRAM && (protocol == 0 || protocol == libc::IPPROTO_UDP);
    let tcp = base == libc::SOCK_STREAM && (protocol == 0 || protocol == libc::IPPROTO_TCP);
    if !udp && !tcp {
        // Never a host socket from inside a jail: raw and ICMP sockets
        // are not relayed. Said once in vimage's log (dmesg).
        let (e, what) = if base == libc::SOCK_RAW {
            (libc::EPERM, "raw")
        } else {
            (libc::EPROTONOSUPPORT, "this kind of")
        };
        static SAID: AtomicBool = AtomicBool::new(false);
        log_once(
            &SAID,
            &format!("{what} sockets are not relayed (type {base}, protocol {protocol})"),
            e,
        );
        return set_errno(e);
    }
    // A datagram is a message: UDP's pair keeps their bounds.
    let pair = if udp { libc::SOCK_SEQPACKET } else { libc::SOCK_STREAM };
    let mut sv = [-1 as c_int; 2];
    // SAFETY: socketpair into our own array.
    if unsafe { libc::socketpair(libc::AF_UNIX, pair | flags, 0, sv.as_mut_ptr()) } < 0 {
        return -1;
    }
    let (app, far) = (sv[0], sv[1]);
    let req = Request {
        op: OP_SOCKET,
        ino: sock_ino(app).unwrap_or(0),
        a: domain,
        b: base,
        c: protocol,
        ..Request::default()
    };
    // Known before it is announced: the answer may refuse it.
    known().insert(req.ino);
    let sent = req.ino != 0 && announce(&req, far);
    // SAFETY: our copy of the far end; vimage has its own now.
    unsafe { libc::close(far) };
    if !sent || (udp && !dgram::mark(app, req.ino)) {
        known().remove(&req.ino);
        // SAFETY: our end of a pair; vimage sees it close.
        unsafe { libc::close(app) };
        return set_errno(if sent { libc::EMFILE } else { libc::ENETDOWN });
    }
    app
}

/// Ask vimage `op` about socket `ino` at `addr`; 0 or -1 with errno.
fn addr_call(op: u8, ino: u64, addr: Option<SocketAddr>, a: i32) -> c_int {
    let req = Request {
        op,
        ino,
        a,
        addr,
        ..Request::default()
    };
    match call(&req, None) {
        Ok(_) => 0,
        Err(e) => set_errno(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().bind)(fd, addr, len) };
    };
    // SAFETY: the caller's address of `len` bytes.
    match unsafe { read_addr(addr, len) } {
        Some(a) => addr_call(OP_BIND, ino, Some(a), 0),
        None => set_errno(libc::EAFNOSUPPORT),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().connect)(fd, addr, len) };
    };
    // SAFETY: fcntl on the caller's descriptor.
    let nonblock = unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK != 0;
    // SAFETY: the caller's address of `len` bytes.
    match unsafe { read_addr(addr, len) } {
        Some(a) => addr_call(OP_CONNECT, ino, Some(a), i32::from(nonblock)),
        // AF_UNSPEC: a UDP socket forgets its peer.
        // SAFETY: the family of the caller's address, `len` checked.
        None if !addr.is_null()
            && len as usize >= std::mem::size_of::<libc::sa_family_t>()
            && unsafe { (*addr).sa_family } as c_int == libc::AF_UNSPEC =>
        {
            addr_call(OP_CONNECT, ino, None, 0)
        }
        None => set_errno(libc::EAFNOSUPPORT),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().listen)(fd, backlog) };
    };
    let req = Request {
        op: OP_LISTEN,
        ino,
        a: backlog,
        ..Request::default()
    };
    match call(&req, None) {
        // Already listening: vimage sent nothing new.
        Ok((_, None)) => 0,
        Ok((_, Some(new))) => {
            // The descriptor becomes the end accepted connections arrive on,
            // keeping its flags.
            // SAFETY: fcntl and dup3 on the caller's descriptor and ours.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                let cloexec = libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC != 0;
                let r = libc::dup3(new, fd, if cloexec { libc::O_CLOEXEC } else { 0 });
                libc::close(new);
                if r < 0 {
                    return -1;
                }
                libc::fcntl(fd, libc::F_SETFL, fl & libc::O_NONBLOCK);
            }
            if let Some(i) = sock_ino(fd) {
                known().insert(i);
            }
            0
        }
        Err(e) => set_errno(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { accept4(fd, addr, len, 0) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    if ours(fd).is_none() {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().accept4)(fd, addr, len, flags) };
    }
    if dgram::is_udp(fd) {
        return set_errno(libc::EOPNOTSUPP);
    }
    let mut ty: c_int = 0;
    let mut tl = 4 as socklen_t;
    // SAFETY: the real getsockopt into our own int.
    unsafe {
        (real().getsockopt)(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut c_int).cast(),
            &mut tl,
        )
    };
    if ty != libc::SOCK_SEQPACKET {
        return set_errno(libc::EINVAL);
    }
    let mut buf = [0u8; ADDR_LEN];
    let cloexec = if flags & libc::SOCK_CLOEXEC != 0 {
        libc::MSG_CMSG_CLOEXEC
    } else {
        0
    };
    match recv_msg(fd, &mut buf, cloexec) {
        Err(e) => set_errno(e),
        Ok((0, _)) => set_errno(libc::EINVAL),
        Ok((_, None)) => set_errno(libc::ECONNABORTED),
        Ok((n, Some(new))) => {
            if flags & libc::SOCK_NONBLOCK != 0 {
                // SAFETY: fcntl on the descriptor just received.
                unsafe { libc::fcntl(new, libc::F_SETFL, libc::O_NONBLOCK) };
            }
            if let Some(i) = sock_ino(new) {
                known().insert(i);
            }
            if let Some(a) = get_addr(&buf[..n]) {
                // SAFETY: the caller's buffer of `*len` bytes.
                unsafe { write_addr(a, addr, len) };
            }
            new
        }
    }
}

/// getsockname(2) or getpeername(2) through vimage.
unsafe fn name_call(op: u8, fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, real: NameFn) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { real(fd, addr, len) };
    };
    let req = Request {
        op,
        ino,
        ..Request::default()
    };
    match call(&req, None) {
        Ok((a, _)) => match a.addr {
            Some(sa) => {
                // SAFETY: the caller's buffer of `*len` bytes.
                unsafe { write_addr(sa, addr, len) };
                0
            }
            None => set_errno(libc::ENOTCONN),
        },
        Err(e) => set_errno(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { name_call(OP_SOCKNAME, fd, addr, len, real().getsockname) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { name_call(OP_PEERNAME, fd, addr, len, real().getpeername) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().getsockopt)(fd, level, name, val, len) };
    };
    let req = Request {
        op: OP_GETOPT,
        ino,
        a: level,
        b: name,
        ..Request::default()
    };
    match call(&req, None) {
        Ok((a, _)) => {
            if !val.is_null() && !len.is_null() {
                // SAFETY: the caller's buffer of `*len` bytes.
                unsafe {
                    let n = (*len as usize).min(a.data.len());
                    std::ptr::copy_nonoverlapping(a.data.as_ptr(), val.cast::<u8>(), n);
                    *len = n as socklen_t;
                }
            }
            0
        }
        Err(e) => set_errno(e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int {
    let Some(ino) = ours(fd) else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().setsockopt)(fd, level, name, val, len) };
    };
    let data = if val.is_null() {
        Vec::new()
    } else {
        // SAFETY: the caller's value of `len` bytes (capped at a page).
        unsafe { std::slice::from_raw_parts(val.cast::<u8>(), (len as usize).min(MSG_MAX / 2)).to_vec() }
    };
    let req = Request {
        op: OP_SETOPT,
        ino,
        a: level,
        b: name,
        data,
        ..Request::default()
    };
    match call(&req, None) {
        Ok(_) => 0,
        Err(e) => set_errno(e),
    }
}

/// Address lists we made (getaddrinfo), by their head: freeaddrinfo
/// frees these, and passes the rest on.
fn our_lists() -> std::sync::MutexGuard<'static, HashSet<usize>> {
    static OURS: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    OURS.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// getaddrinfo(3): a name of the lab (its hosts table: node names) is
/// answered by vimage; numbers, `localhost`, the host's /etc/hosts and
/// the rest as libc answers them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    // SAFETY: the caller's arguments, to the real function.
    let real_gai = || unsafe { (real().getaddrinfo)(node, service, hints, res) };
    if control().is_none() || node.is_null() || res.is_null() {
        return real_gai();
    }
    // SAFETY: the caller's NUL-terminated strings and hints, read only.
    let (name, hint) = unsafe {
        (
            std::ffi::CStr::from_ptr(node).to_string_lossy().into_owned(),
            hints.as_ref().copied(),
        )
    };
    let (family, socktype, protocol, flags) = hint.map_or((libc::AF_UNSPEC, 0, 0, 0), |h| {
        (h.ai_family, h.ai_socktype, h.ai_protocol, h.ai_flags)
    });
    if name.is_empty()
        || name == "localhost"
        || name.parse::<std::net::IpAddr>().is_ok()
        || flags & libc::AI_NUMERICHOST != 0
    {
        return real_gai();
    }
    let req = Request {
        op: OP_RESOLVE,
        data: name.as_bytes().to_vec(),
        ..Request::default()
    };
    let Ok((a, _)) = call(&req, None) else {
        return real_gai();
    };
    // SAFETY: the caller's service string, read only.
    let port = match unsafe { service_port(service) } {
        Some(p) => p,
        None => return libc::EAI_SERVICE,
    };
    let types: Vec<(c_int, c_int)> = match socktype {
        0 => vec![
            (libc::SOCK_STREAM, libc::IPPROTO_TCP),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
        ],
        t => vec![(t, protocol)],
    };
    let addrs = a.data.chunks(ADDR_LEN).filter_map(get_addr).filter(|sa| match family {
        libc::AF_INET => sa.is_ipv4(),
        libc::AF_INET6 => sa.is_ipv6(),
        _ => true,
    });
    let mut nodes: Vec<*mut libc::addrinfo> = Vec::new();
    for sa in addrs {
        let sa = SocketAddr::new(sa.ip(), port);
        for &(t, proto) in &types {
            let size = std::mem::size_of::<libc::addrinfo>() + std::mem::size_of::<libc::sockaddr_in6>();
            // SAFETY: one zeroed block for the node and its address; the
            // address lies after the node, within the block.
            unsafe {
                let b = libc::calloc(1, size).cast::<libc::addrinfo>();
                if b.is_null() {
                    break;
                }
                let at = b
                    .cast::<u8>()
                    .add(std::mem::size_of::<libc::addrinfo>())
                    .cast::<sockaddr>();
                let mut len = std::mem::size_of::<libc::sockaddr_in6>() as socklen_t;
                write_addr(sa, at, &mut len);
                (*b).ai_family = if sa.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
                (*b).ai_socktype = t;
                (*b).ai_protocol = proto;
                (*b).ai_addrlen = len;
                (*b).ai_addr = at;
                nodes.push(b);
            }
        }
    }
    if nodes.is_empty() {
        return libc::EAI_NONAME;
    }
    // SAFETY: linking the nodes just made; the name copied by strdup.
    unsafe {
        for w in nodes.windows(2) {
            (*w[0]).ai_next = w[1];
        }
        if flags & libc::AI_CANONNAME != 0 {
            (*nodes[0]).ai_canonname = libc::strdup(node);
        }
        *res = nodes[0];
    }
    our_lists().insert(nodes[0] as usize);
    0
}

/// A service's port: a number, or a name from /etc/services (TCP's).
unsafe fn service_port(service: *const c_char) -> Option<u16> {
    if service.is_null() {
        return Some(0);
    }
    // SAFETY: the caller's NUL-terminated string; getservbyname's answer
    // is read at once.
    unsafe {
        let s = std::ffi::CStr::from_ptr(service).to_string_lossy();
        if let Ok(n) = s.parse::<u16>() {
            return Some(n);
        }
        let e = libc::getservbyname(service, c"tcp".as_ptr());
        (!e.is_null()).then(|| u16::from_be((*e).s_port as u16))
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeaddrinfo(ai: *mut libc::addrinfo) {
    if ai.is_null() {
        return;
    }
    if !our_lists().remove(&(ai as usize)) {
        // SAFETY: a list libc made, back to libc.
        return unsafe { (real().freeaddrinfo)(ai) };
    }
    // SAFETY: our own list: each node one calloc'd block, the first
    // perhaps with a strdup'd name.
    unsafe {
        libc::free((*ai).ai_canonname.cast());
        let mut p = ai;
        while !p.is_null() {
            let next = (*p).ai_next;
            libc::free(p.cast());
            p = next;
        }
    }
}

/// The jail's hostname, from vimage.
fn jail_hostname() -> Option<Vec<u8>> {
    control()?;
    let req = Request {
        op: OP_HOSTNAME,
        ..Request::default()
    };
    call(&req, None).ok().map(|(a, _)| a.data)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostname(name: *mut c_char, len: libc::size_t) -> c_int {
    let Some(h) = jail_hostname() else {
        // SAFETY: the caller's arguments, to the real function.
        return unsafe { (real().gethostname)(name, len) };
    };
    if name.is_null() || h.len() >= len {
        return set_errno(libc::ENAMETOOLONG);
    }
    // SAFETY: `h.len() + 1` bytes into the caller's `len`.
    unsafe {
        std::ptr::copy_nonoverlapping(h.as_ptr().cast::<c_char>(), name, h.len());
        *name.add(h.len()) = 0;
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn uname(buf: *mut libc::utsname) -> c_int {
    // SAFETY: the caller's struct, to the real function.
    let r = unsafe { (real().uname)(buf) };
    if r == 0
        && !buf.is_null()
        && let Some(h) = jail_hostname()
    {
        // SAFETY: nodename is a fixed array in the caller's struct; the
        // name is cut to leave its NUL.
        unsafe {
            let n = &mut (*buf).nodename;
            let k = h.len().min(n.len() - 1);
            for (d, s) in n.iter_mut().zip(h.iter().take(k)) {
                *d = *s as c_char;
            }
            n[k] = 0;
        }
    }
    r
}
