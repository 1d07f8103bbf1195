//! Protocol control blocks (after `in_pcb.c`): the table that holds a
//! vnet's TCP or UDP sockets, the choice of a local port, and the errors
//! a socket call answers with.

use std::rc::Rc;

use crate::netinet::in_::in_localip;
use crate::netinet::ip::IP;
use crate::netinet::tcp_var::SoError;
use crate::vnet::Vnet;

/// A socket call's error, with FreeBSD's errno text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Errno {
    #[error("Resource temporarily unavailable")]
    Again,
    #[error("Address already in use")]
    AddrInUse,
    #[error("Can't assign requested address")]
    AddrNotAvail,
    #[error("Socket is already connected")]
    IsConn,
    #[error("Socket is not connected")]
    NotConn,
    #[error("Broken pipe")]
    Pipe,
    #[error("Invalid argument")]
    Inval,
    #[error("Network is unreachable")]
    NetUnreach,
    #[error("Message too long")]
    MsgSize,
    #[error("Permission denied")]
    Access,
    #[error("Operation now in progress")]
    InProgress,
    #[error("No buffer space available")]
    NoBufs,
    #[error("{0}")]
    So(#[from] SoError),
}

/// The process holding a socket, and the descriptor, as sockstat shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub comm: String,
    pub fd: u32,
    /// The addresses its jail may use (`ip4.addr`; see
    /// [`in_jail`](crate::netinet::in_jail)), `None` for any.
    pub ip4: Option<Rc<[u32]>>,
}

impl Owner {
    /// The jail addresses of a socket's owner (`None`: unrestricted).
    pub fn ip4(o: &Option<Owner>) -> Option<&[u32]> {
        o.as_ref().and_then(|o| o.ip4.as_deref())
    }

    /// The same, to keep past a borrow of the socket.
    pub fn ip4_rc(o: &Option<Owner>) -> Option<Rc<[u32]>> {
        o.as_ref().and_then(|o| o.ip4.clone())
    }
}

/// Names a control block; the generation tells it from earlier ones that
/// used its slot, so a stale name (a late timer, a closed handle) finds
/// nothing rather than a stranger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PcbId {
    pub idx: u32,
    pub generation: u32,
}

struct Slot<T> {
    generation: u32,
    /// When it was made, by `inp_gencnt`: netstat lists the newest first.
    gencnt: u64,
    pcb: Option<Box<T>>,
}

/// A vnet's control blocks of one protocol (`struct inpcbinfo`).
pub struct PcbTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    gencnt: u64,
}

impl<T> Default for PcbTable<T> {
    fn default() -> Self {
        PcbTable {
            slots: Vec::new(),
            free: Vec::new(),
            gencnt: 0,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for PcbTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> PcbTable<T> {
    /// Make a control block (`in_pcballoc`) from its name.
    pub fn alloc(&mut self, make: impl FnOnce(PcbId) -> T) -> PcbId {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    gencnt: 0,
                    pcb: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.gencnt += 1;
        let s = &mut self.slots[idx as usize];
        s.generation = s.generation.wrapping_add(1);
        s.gencnt = self.gencnt;
        let id = PcbId {
            idx,
            generation: s.generation,
        };
        s.pcb = Some(Box::new(make(id)));
        id
    }

    /// Forget a control block (`in_pcbfree`).
    pub fn free(&mut self, id: PcbId) -> Option<Box<T>> {
        let s = self.slots.get_mut(id.idx as usize)?;
        if s.generation != id.generation {
            return None;
        }
        let pcb = s.pcb.take()?;
        self.free.push(id.idx);
        Some(pcb)
    }

    pub fn get(&self, id: PcbId) -> Option<&T> {
        let s = self.slots.get(id.idx as usize)?;
        (s.generation == id.generation).then_some(())?;
        s.pcb.as_deref()
    }

    pub fn get_mut(&mut self, id: PcbId) -> Option<&mut T> {
        let s = self.slots.get_mut(id.idx as usize)?;
        (s.generation == id.generation).then_some(())?;
        s.pcb.as_deref_mut()
    }

    /// Every control block, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.pcb.as_deref())
    }

    /// Every control block, the newest first (the kernel's list order).
    pub fn newest_first(&self) -> Vec<&T> {
        let mut v: Vec<(u64, &T)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.gencnt, s.pcb.as_deref()?)))
            .collect();
        v.sort_by_key(|&(g, _)| std::cmp::Reverse(g));
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// Take every control block out (the vnet is going away).
    pub fn drain(&mut self) -> impl Iterator<Item = Box<T>> + '_ {
        self.free.clear();
        self.slots.drain(..).filter_map(|s| s.pcb)
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A local port for a socket on `laddr` (`in_pcbbind`): `port`, or an
/// ephemeral one (random within `net.inet.ip.portrange.first..=last`,
/// as `in_pcb_lport_dest` picks) if 0.
pub fn in_pcbbind(
    v: &mut Vnet,
    laddr: u32,
    port: u16,
    in_use: impl Fn(&mut Vnet, u32, u16) -> bool,
) -> Result<u16, Errno> {
    if laddr != 0 && !in_localip(v, laddr) {
        return Err(Errno::AddrNotAvail);
    }
    if port != 0 {
        return if in_use(v, laddr, port) {
            Err(Errno::AddrInUse)
        } else {
            Ok(port)
        };
    }
    let ip = v.builtin(IP);
    let (first, last) = (
        ip.portrange_first.clamp(1, 65535) as u32,
        ip.portrange_last.clamp(1, 65535) as u32,
    );
    let (lo, hi) = (first.min(last), first.max(last));
    let n = hi - lo + 1;
    let start = (v.random() % n as u64) as u32;
    for i in 0..n {
        let p = (lo + (start + i) % n) as u16;
        if !in_use(v, laddr, p) {
            return Ok(p);
        }
    }
    Err(Errno::AddrNotAvail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_names_find_nothing_and_the_newest_comes_first() {
        let mut t: PcbTable<&str> = PcbTable::default();
        let a = t.alloc(|_| "a");
        let b = t.alloc(|_| "b");
        assert_eq!(t.free(a), Some(Box::new("a")));
        let c = t.alloc(|_| "c");
        assert_eq!(c.idx, a.idx, "the slot is reused");
        assert_eq!(t.get(a), None, "under a new generation");
        assert_eq!(t.get(c), Some(&"c"));
        assert_eq!(t.newest_first(), vec![&"c", &"b"]);
        assert_eq!(t.free(a), None);
        assert_eq!(t.len(), 2);
        let _ = b;
    }
}
