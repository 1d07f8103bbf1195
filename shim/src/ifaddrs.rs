//! The jail's interfaces for a Linux program: getifaddrs(3), the
//! if_nameindex(3) family and netdevice(7)'s SIOCGIF* ioctls, answered
//! from the vnet's list (`OP_IFADDRS`). glibc makes its own answers over
//! netlink and its own sockets, which we cannot see; so we stand in for
//! the functions. Our lists are laid out as glibc's are (one block for
//! getifaddrs, malloc'd names for if_nameindex) so that its free
//! functions free them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::AtomicBool;

use libc::{c_char, c_int, c_uint, c_ulong, c_void, sockaddr, socklen_t};

use crate::proto::*;
use crate::{call, control, log_once, set_errno, write_addr};

type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int;
type GetIfaddrsFn = unsafe extern "C" fn(*mut *mut libc::ifaddrs) -> c_int;
type NameToIndexFn = unsafe extern "C" fn(*const c_char) -> c_uint;
type IndexToNameFn = unsafe extern "C" fn(c_uint, *mut c_char) -> *mut c_char;
type NameIndexFn = unsafe extern "C" fn() -> *mut libc::if_nameindex;

// libc's own, for programs not in a jail of ours.
libc_fns!("interface" {
    ioctl: IoctlFn,
    getifaddrs: GetIfaddrsFn,
    if_nametoindex: NameToIndexFn,
    if_indextoname: IndexToNameFn,
    if_nameindex: NameIndexFn,
});

/// The jail's interfaces; `None`: not in a jail (stand aside), or an
/// errno.
fn interfaces() -> Option<Result<Vec<IfInfo>, c_int>> {
    control()?;
    let req = Request {
        op: OP_IFADDRS,
        ..Request::default()
    };
    Some(call(&req, None).and_then(|(a, _)| get_ifs(&a.data).ok_or(libc::EIO)))
}

/// The netmask of a prefix, as an address of `a`'s family.
fn netmask(a: &IpAddr, plen: u8) -> SocketAddr {
    let ip = match a {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(
            u32::MAX.checked_shl(32 - u32::from(plen.min(32))).unwrap_or(0),
        )),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(
            u128::MAX.checked_shl(128 - u32::from(plen.min(128))).unwrap_or(0),
        )),
    };
    SocketAddr::new(ip, 0)
}

/// One node of a getifaddrs list with the storage it points into.
#[repr(C)]
struct Node {
    ifa: libc::ifaddrs,
    name: [c_char; IFNAMSIZ],
    addr: libc::sockaddr_storage,
    mask: libc::sockaddr_storage,
    ifu: libc::sockaddr_storage,
    /// `struct rtnl_link_stats` (24 counters), for `AF_PACKET` nodes.
    stats: [u32; 24],
}

/// Write `a` into a sockaddr_storage.
unsafe fn store(a: SocketAddr, at: *mut libc::sockaddr_storage) -> *mut sockaddr {
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    // SAFETY: a whole sockaddr_storage of ours.
    unsafe { write_addr(a, at.cast(), &mut len) };
    at.cast()
}

/// getifaddrs(3): an `AF_PACKET` node per interface, then one per
/// address (IPv4 ones first), as glibc orders them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getifaddrs(out: *mut *mut libc::ifaddrs) -> c_int {
    let Some(ifs) = interfaces() else {
        // SAFETY: the caller's pointer, to libc's.
        return unsafe { (real().getifaddrs)(out) };
    };
    let ifs = match ifs {
        Ok(i) => i,
        Err(e) => return set_errno(e),
    };
    if out.is_null() {
        return set_errno(libc::EFAULT);
    }
    let mut items: Vec<(&IfInfo, Option<&IfAddr>)> = ifs.iter().map(|i| (i, None)).collect();
    for v4 in [true, false] {
        for i in &ifs {
            items.extend(i.addrs.iter().filter(|a| a.addr.is_ipv4() == v4).map(|a| (i, Some(a))));
        }
    }
    // SAFETY: one zeroed block of `items.len()` nodes (calloc aligns for
    // any type), each filled within itself and linked to the next; the
    // head is the block, so free(3) of it (glibc's freeifaddrs) frees all.
    unsafe {
        let block = libc::calloc(items.len().max(1), std::mem::size_of::<Node>()).cast::<Node>();
        if block.is_null() {
            return set_errno(libc::ENOMEM);
        }
        for (k, (i, a)) in items.iter().enumerate() {
            let n = block.add(k);
            for (d, s) in (*n).name.iter_mut().zip(i.name.bytes().take(IFNAMSIZ - 1)) {
                *d = s as c_char;
            }
            (*n).ifa.ifa_name = (*n).name.as_mut_ptr();
            (*n).ifa.ifa_flags = i.flags as c_uint;
            match a {
                None => {
                    let ll = (&raw mut (*n).addr).cast::<libc::sockaddr_ll>();
                    (*ll).sll_family = libc::AF_PACKET as u16;
                    (*ll).sll_ifindex = i.index as c_int;
                    (*ll).sll_hatype = i.hatype;
                    (*ll).sll_halen = 6;
                    (&mut (*ll).sll_addr)[..6].copy_from_slice(&i.lladdr);
                    (*n).ifa.ifa_addr = (&raw mut (*n).addr).cast();
                    (&mut (*n).stats)[..10].copy_from_slice(&i.stats);
                    (*n).ifa.ifa_data = (&raw mut (*n).stats).cast();
                }
                Some(a) => {
                    (*n).ifa.ifa_addr = store(a.addr, &raw mut (*n).addr);
                    (*n).ifa.ifa_netmask = store(netmask(&a.addr.ip(), a.plen), &raw mut (*n).mask);
                    if let Some(IfPeer::Broadcast(p) | IfPeer::Dst(p)) = a.peer {
                        (*n).ifa.ifa_ifu = store(p, &raw mut (*n).ifu);
                    }
                }
            }
            if k + 1 < items.len() {
                (*n).ifa.ifa_next = &raw mut (*block.add(k + 1)).ifa;
            }
        }
        *out = if items.is_empty() {
            libc::free(block.cast());
            std::ptr::null_mut()
        } else {
            &raw mut (*block).ifa
        };
    }
    0
}

/// freeifaddrs(3): a list is one block, ours as glibc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeifaddrs(ifa: *mut libc::ifaddrs) {
    // SAFETY: the head of a list getifaddrs made (one malloc'd block).
    unsafe { libc::free(ifa.cast()) }
}

/// The caller's NUL-terminated name, at most `IFNAMSIZ` bytes read.
unsafe fn name_at(p: *const c_char) -> String {
    let mut b = Vec::new();
    for k in 0..IFNAMSIZ {
        // SAFETY: within the caller's name or its NUL.
        let c = unsafe { *p.add(k) } as u8;
        if c == 0 {
            break;
        }
        b.push(c);
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn if_nametoindex(name: *const c_char) -> c_uint {
    let ifs = match interfaces() {
        // SAFETY: the caller's string, to libc.
        None => return unsafe { (real().if_nametoindex)(name) },
        Some(Err(e)) => {
            set_errno(e);
            return 0;
        }
        Some(Ok(i)) => i,
    };
    if name.is_null() {
        return 0;
    }
    // SAFETY: the caller's NUL-terminated name.
    let name = unsafe { name_at(name) };
    match ifs.iter().find(|i| i.name == name) {
        Some(i) => i.index,
        None => {
            set_errno(libc::ENODEV);
            0
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn if_indextoname(index: c_uint, buf: *mut c_char) -> *mut c_char {
    let ifs = match interfaces() {
        // SAFETY: the caller's buffer of IF_NAMESIZE, to libc.
        None => return unsafe { (real().if_indextoname)(index, buf) },
        Some(Err(e)) => {
            set_errno(e);
            return std::ptr::null_mut();
        }
        Some(Ok(i)) => i,
    };
    match ifs.iter().find(|i| i.index == index) {
        Some(i) if !buf.is_null() => {
            // SAFETY: at most IFNAMSIZ bytes with the NUL into the
            // caller's IF_NAMESIZE buffer.
            unsafe { put_name(&i.name, buf) };
            buf
        }
        _ => {
            set_errno(libc::ENXIO);
            std::ptr::null_mut()
        }
    }
}

/// A name and its NUL into an `IFNAMSIZ` buffer.
unsafe fn put_name(name: &str, buf: *mut c_char) {
    let n = name.len().min(IFNAMSIZ - 1);
    // SAFETY: `n + 1 <= IFNAMSIZ` bytes into the caller's buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
    }
}

/// if_nameindex(3), malloc'd as glibc does so its if_freenameindex frees
/// it: an array ending in {0, NULL}, each name strdup'd.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn if_nameindex() -> *mut libc::if_nameindex {
    let ifs = match interfaces() {
        // SAFETY: libc's own.
        None => return unsafe { (real().if_nameindex)() },
        Some(Err(e)) => {
            set_errno(e);
            return std::ptr::null_mut();
        }
        Some(Ok(i)) => i,
    };
    // SAFETY: a zeroed array of `len + 1` entries (the last the end
    // mark), each name a NUL-terminated copy.
    unsafe {
        let v = libc::calloc(ifs.len() + 1, std::mem::size_of::<libc::if_nameindex>()).cast::<libc::if_nameindex>();
        if v.is_null() {
            set_errno(libc::ENOMEM);
            return v;
        }
        for (k, i) in ifs.iter().enumerate() {
            let name = std::ffi::CString::new(i.name.clone()).unwrap_or_default();
            (*v.add(k)).if_index = i.index;
            (*v.add(k)).if_name = libc::strdup(name.as_ptr());
        }
        v
    }
}

/// `struct ifreq`'s size on Linux (a name and a 24-byte union).
const IFREQ: usize = 40;

/// ioctl(2). In a jail the SIOCGIF* requests (netdevice(7)) are answered
/// from the vnet on any descriptor, since programs ask on whatever socket
/// they have; the SIOCSIF* ones are refused (`ifconfig` configures);
/// the rest go to libc. C's ioctl is variadic, which Rust cannot define:
/// on the 64-bit Linux ABIs (System V x86-64, AAPCS64) a variadic
/// pointer argument is passed as a named one, in the third argument
/// register, so this three-argument definition receives what callers pass
/// and passes it on unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: *mut c_void) -> c_int {
    let ours = matches!(req, 0x8910..=0x8938) && control().is_some();
    if !ours {
        // SAFETY: the caller's arguments, to libc's ioctl.
        return unsafe { (real().ioctl)(fd, req, arg) };
    }
    if arg.is_null() {
        return set_errno(libc::EFAULT);
    }
    let ifs = match interfaces() {
        Some(Ok(i)) => i,
        Some(Err(e)) => return set_errno(e),
        None => return set_errno(libc::ENETDOWN),
    };
    // SAFETY: `arg` is the caller's struct ifreq (or ifconf) for a
    // SIOCGIF* request, as netdevice(7) says; we write within it.
    unsafe { siocgif(&ifs, req, arg.cast()) }
}

/// One SIOCGIF* request on `r`, a `struct ifreq` (`struct ifconf` for
/// SIOCGIFCONF).
unsafe fn siocgif(ifs: &[IfInfo], req: c_ulong, r: *mut u8) -> c_int {
    // SAFETY: the caller's ifreq: a name at 0, the union at 16.
    unsafe {
        if req == libc::SIOCGIFCONF {
            return ifconf(ifs, r.cast());
        }
        let u = r.add(IFNAMSIZ);
        if req == libc::SIOCGIFNAME {
            let index = std::ptr::read_unaligned(u.cast::<c_int>());
            return match ifs.iter().find(|i| i.index as c_int == index) {
                Some(i) => {
                    put_name(&i.name, r.cast());
                    0
                }
                None => set_errno(libc::ENODEV),
            };
        }
        let name = name_at(r.cast());
        let Some(i) = ifs.iter().find(|i| i.name == name) else {
            return set_errno(libc::ENODEV);
        };
        let v4 = i.addrs.iter().find(|a| a.addr.is_ipv4());
        let put = |a: SocketAddr| {
            std::ptr::write_bytes(u, 0, IFREQ - IFNAMSIZ);
            let mut len = 16 as socklen_t;
            write_addr(a, u.cast(), &mut len);
        };
        match req {
            libc::SIOCGIFFLAGS => std::ptr::write_unaligned(u.cast::<i16>(), i.flags as i16),
            libc::SIOCGIFMTU => std::ptr::write_unaligned(u.cast::<c_int>(), i.mtu as c_int),
            libc::SIOCGIFINDEX => std::ptr::write_unaligned(u.cast::<c_int>(), i.index as c_int),
            libc::SIOCGIFHWADDR => {
                std::ptr::write_bytes(u, 0, IFREQ - IFNAMSIZ);
                std::ptr::write_unaligned(u.cast::<u16>(), i.hatype);
                std::ptr::copy_nonoverlapping(i.lladdr.as_ptr(), u.add(2), 6);
            }
            libc::SIOCGIFADDR | libc::SIOCGIFNETMASK | libc::SIOCGIFBRDADDR | libc::SIOCGIFDSTADDR => {
                let Some(a) = v4 else {
                    return set_errno(libc::EADDRNOTAVAIL);
                };
                put(match (req, a.peer) {
                    (libc::SIOCGIFADDR, _) => a.addr,
                    (libc::SIOCGIFNETMASK, _) => netmask(&a.addr.ip(), a.plen),
                    (libc::SIOCGIFBRDADDR, Some(IfPeer::Broadcast(b))) => b,
                    (libc::SIOCGIFBRDADDR, _) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
                    (_, Some(IfPeer::Dst(d))) => d,
                    _ => a.addr,
                });
            }
            _ => {
                static SAID: AtomicBool = AtomicBool::new(false);
                let what = format!("ioctl 0x{req:x} on {name} is refused (ifconfig configures)");
                log_once(&SAID, &what, libc::EPERM);
                return set_errno(libc::EPERM);
            }
        }
    }
    0
}

/// SIOCGIFCONF: one ifreq per IPv4 address; with no buffer, the room
/// needed.
unsafe fn ifconf(ifs: &[IfInfo], c: *mut libc::ifconf) -> c_int {
    let all: Vec<(&IfInfo, &IfAddr)> = ifs
        .iter()
        .flat_map(|i| i.addrs.iter().filter(|a| a.addr.is_ipv4()).map(move |a| (i, a)))
        .collect();
    // SAFETY: the caller's ifconf, and its buffer of `ifc_len` bytes.
    unsafe {
        let buf = (*c).ifc_ifcu.ifcu_buf.cast::<u8>();
        if buf.is_null() {
            (*c).ifc_len = (all.len() * IFREQ) as c_int;
            return 0;
        }
        let room = ((*c).ifc_len.max(0) as usize) / IFREQ;
        for (k, (i, a)) in all.iter().take(room).enumerate() {
            let r = buf.add(k * IFREQ);
            std::ptr::write_bytes(r, 0, IFREQ);
            put_name(&i.name, r.cast());
            let mut len = 16 as socklen_t;
            write_addr(a.addr, r.add(IFNAMSIZ).cast(), &mut len);
        }
        (*c).ifc_len = (all.len().min(room) * IFREQ) as c_int;
    }
    0
}
