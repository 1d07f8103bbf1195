//! The VNET framework: clonable per-vnet state, after FreeBSD's vnet(9).
//!
//! A *vnet* is one instance of the network stack. Every module (the
//! interface layer, ARP, IPv4, ... and modules users write) keeps its state
//! in a per-vnet slot, reached through a typed [`VnetKey`] in constant time.
//! Modules are registered with a (subsystem, order) priority, like
//! `VNET_SYSINIT`; creating a vnet runs every constructor in ascending
//! priority, destroying it runs every destructor in exactly the reverse order
//! (see [`module`]).
//!
//! Vnets live in a [`VnetTable`] owned by the [`Kernel`](crate::Kernel).
//! While a vnet is being built or torn down it is *outside* the table, so
//! `VNET_FOREACH` ([`Kernel::vnet_foreach`](crate::Kernel::vnet_foreach))
//! can never see it half-built.

pub mod curvnet;
pub mod module;

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub use curvnet::CurVnet;
pub use module::{Module, Prio};

/// Names a vnet: a slot of the table plus a serial number that is never
/// reused, so an id of a destroyed vnet can never reach its successor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VnetId {
    idx: u32,
    serial: u64,
}

impl VnetId {
    /// The default vnet: the first one a kernel creates.
    pub const VNET0: VnetId = VnetId { idx: 0, serial: 0 };

    /// The serial number: 0 for vnet0, then counting up in creation order.
    pub fn serial(self) -> u64 {
        self.serial
    }
}

impl fmt::Debug for VnetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vnet#{}", self.serial)
    }
}

impl fmt::Display for VnetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.serial)
    }
}

/// A typed handle to one module's per-vnet state: what `VNET(name)` is in
/// FreeBSD. Access through it is an index and a type check, nothing more.
pub struct VnetKey<T> {
    slot: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> VnetKey<T> {
    /// A key for a module that [`Kernel::new`](crate::Kernel::new)
    /// registers itself, at a slot fixed at compile time.
    pub(crate) const fn fixed(slot: u32) -> Self {
        VnetKey { slot, _t: PhantomData }
    }

    /// The slot this key reads.
    pub fn slot(&self) -> usize {
        self.slot as usize
    }
}

impl<T> Clone for VnetKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for VnetKey<T> {}

impl<T> fmt::Debug for VnetKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VnetKey({})", self.slot)
    }
}

/// A module's state in one vnet, with the type it was made of.
struct Slot {
    tid: TypeId,
    val: Box<dyn Any>,
}

/// One network stack instance.
pub struct Vnet {
    id: VnetId,
    name: Option<Box<str>>,
    rng: Xoshiro256PlusPlus,
    slots: Vec<Option<Slot>>,
}

impl Vnet {
    fn new(id: VnetId, name: Option<Box<str>>, seed: u64) -> Box<Vnet> {
        Box::new(Vnet {
            id,
            name,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ id.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            slots: Vec::new(),
        })
    }

    pub fn id(&self) -> VnetId {
        self.id
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// This vnet's module state, or `None` if the module is not (or no
    /// longer) registered.
    #[inline]
    pub fn get<T: 'static>(&self, key: VnetKey<T>) -> Option<&T> {
        let s = self.slots.get(key.slot())?.as_ref()?;
        if s.tid != TypeId::of::<T>() {
            return None;
        }
        let p: *const dyn Any = s.val.as_ref();
        // SAFETY: `tid` was read from this very box when it was stored
        // (`slot_put`) and equals T's TypeId, so the box holds a T and its
        // data pointer is a valid, aligned *const T for as long as `self`
        // is borrowed. This is `downcast_ref` without the virtual call.
        Some(unsafe { &*(p as *const T) })
    }

    /// Mutable access to this vnet's module state.
    #[inline]
    pub fn get_mut<T: 'static>(&mut self, key: VnetKey<T>) -> Option<&mut T> {
        let s = self.slots.get_mut(key.slot())?.as_mut()?;
        if s.tid != TypeId::of::<T>() {
            return None;
        }
        let p: *mut dyn Any = s.val.as_mut();
        // SAFETY: as in `get`: the box holds a T; `&mut self` makes the
        // borrow unique.
        Some(unsafe { &mut *(p as *mut T) })
    }

    /// State of a module the kernel registers itself and never unregisters:
    /// its absence is a programming error, not a user's.
    #[inline]
    #[track_caller]
    pub fn builtin<T: 'static>(&mut self, key: VnetKey<T>) -> &mut T {
        let id = self.id;
        self.get_mut(key)
            .unwrap_or_else(|| panic!("builtin module slot {} missing in {id:?}", key.slot))
    }

    /// The vnet's own seeded random generator (ISNs, ports, loss, jitter):
    /// derived from the run's seed and the vnet's serial, so reruns repeat.
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    pub(crate) fn slot_put(&mut self, slot: usize, state: Box<dyn Any>) {
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, || None);
        }
        let tid = state.as_ref().type_id();
        self.slots[slot] = Some(Slot { tid, val: state });
    }

    pub(crate) fn slot_take(&mut self, slot: usize) -> Option<Box<dyn Any>> {
        self.slots.get_mut(slot)?.take().map(|s| s.val)
    }
}

impl fmt::Debug for Vnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vnet")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Where a table entry stands in a vnet's life.
enum Entry {
    Free,
    /// Reserved: constructors are running; the vnet is not in the table.
    Constructing(u64),
    Live(Box<Vnet>),
    /// Fully built but lent out to code that runs in it (a timer, a frame).
    Busy(u64),
    /// Destructors are running; the vnet is not in the table.
    Destroying(u64),
}

/// The list of vnets (FreeBSD's `vnet_head`), with lookup by id and name.
pub struct VnetTable {
    entries: Vec<Entry>,
    /// Free slots, lowest reused first so the table stays compact.
    free: BTreeSet<u32>,
    names: HashMap<Box<str>, VnetId>,
    next_serial: u64,
    live: usize,
    /// Constructions and destructions under way (they forbid registering
    /// or unregistering modules, which would leave a vnet half-built).
    pub(crate) in_progress: u32,
}

/// Why a vnet could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VnetError {
    #[error("no such vnet: {0}")]
    NoSuchVnet(String),
    #[error("vnet {0} is in use by code running in it")]
    Busy(VnetId),
    #[error("vnet {0} is being created or destroyed")]
    NotReady(VnetId),
    #[error("vnet name {0:?} already in use")]
    NameInUse(String),
    #[error("vnet0 cannot be destroyed")]
    Vnet0,
    #[error("no current vnet (CURVNET_SET missing)")]
    NoCurVnet,
    #[error("modules cannot be (un)registered while a vnet is being created or destroyed")]
    RegistryBusy,
    #[error("module {0:?} is built in and cannot be unregistered")]
    Builtin(String),
    #[error("no such module")]
    NoSuchModule,
}

impl Default for VnetTable {
    fn default() -> Self {
        Self::new()
    }
}

impl VnetTable {
    pub fn new() -> Self {
        VnetTable {
            entries: Vec::new(),
            free: BTreeSet::new(),
            names: HashMap::new(),
            next_serial: 0,
            live: 0,
            in_progress: 0,
        }
    }

    /// Number of fully built vnets.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Reserve an id for a vnet about to be constructed.
    pub(crate) fn reserve(&mut self, name: Option<&str>, seed: u64) -> Result<Box<Vnet>, VnetError> {
        if let Some(n) = name
            && self.names.contains_key(n)
        {
            return Err(VnetError::NameInUse(n.to_string()));
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let idx = match self.free.pop_first() {
            Some(i) => {
                self.entries[i as usize] = Entry::Constructing(serial);
                i
            }
            None => {
                self.entries.push(Entry::Constructing(serial));
                (self.entries.len() - 1) as u32
            }
        };
        let id = VnetId { idx, serial };
        let name: Option<Box<str>> = name.map(Into::into);
        if let Some(n) = &name {
            self.names.insert(n.clone(), id);
        }
        Ok(Vnet::new(id, name, seed))
    }

    /// Put a vnet whose constructors have all run into the table.
    pub(crate) fn install(&mut self, vnet: Box<Vnet>) {
        let i = vnet.id.idx as usize;
        debug_assert!(matches!(self.entries[i], Entry::Constructing(s) if s == vnet.id.serial));
        self.entries[i] = Entry::Live(vnet);
        self.live += 1;
    }

    /// Take a live vnet out of the table to run its destructors.
    pub(crate) fn begin_destroy(&mut self, id: VnetId) -> Result<Box<Vnet>, VnetError> {
        let vnet = self.take(id)?;
        self.entries[id.idx as usize] = Entry::Destroying(id.serial);
        self.live -= 1;
        Ok(vnet)
    }

    /// Forget a destroyed vnet (or a construction that failed).
    pub(crate) fn release(&mut self, vnet: Box<Vnet>) {
        let id = vnet.id;
        if let Some(n) = &vnet.name {
            self.names.remove(n);
        }
        drop(vnet);
        self.entries[id.idx as usize] = Entry::Free;
        self.free.insert(id.idx);
        // Trim free entries off the end and give memory back, so that
        // destroying many vnets returns the process to where it was.
        while matches!(self.entries.last(), Some(Entry::Free)) {
            self.entries.pop();
            self.free.pop_last();
        }
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        if self.names.len() < self.names.capacity() / 4 {
            self.names.shrink_to(self.names.len() * 2);
        }
    }

    fn check(&self, id: VnetId) -> Result<&Entry, VnetError> {
        let e = self
            .entries
            .get(id.idx as usize)
            .ok_or_else(|| VnetError::NoSuchVnet(id.to_string()))?;
        let serial = match e {
            Entry::Free => return Err(VnetError::NoSuchVnet(id.to_string())),
            Entry::Constructing(s) | Entry::Busy(s) | Entry::Destroying(s) => *s,
            Entry::Live(v) => v.id.serial,
        };
        if serial != id.serial {
            return Err(VnetError::NoSuchVnet(id.to_string()));
        }
        Ok(e)
    }

    /// Is `id` a fully built vnet (live, or lent out)?
    pub fn is_live(&self, id: VnetId) -> bool {
        matches!(self.check(id), Ok(Entry::Live(_) | Entry::Busy(_)))
    }

    /// Shared access to a live vnet.
    pub fn get(&self, id: VnetId) -> Result<&Vnet, VnetError> {
        match self.check(id)? {
            Entry::Live(v) => Ok(v),
            Entry::Busy(_) => Err(VnetError::Busy(id)),
            _ => Err(VnetError::NotReady(id)),
        }
    }

    /// Mutable access to a live vnet.
    pub fn get_mut(&mut self, id: VnetId) -> Result<&mut Vnet, VnetError> {
        self.check(id)?;
        match &mut self.entries[id.idx as usize] {
            Entry::Live(v) => Ok(v),
            Entry::Busy(_) => Err(VnetError::Busy(id)),
            _ => Err(VnetError::NotReady(id)),
        }
    }

    /// Lend a live vnet out (to run a timer or a frame in it) while the
    /// rest of the kernel stays reachable; [`VnetTable::put_back`] returns it.
    pub(crate) fn take(&mut self, id: VnetId) -> Result<Box<Vnet>, VnetError> {
        self.check(id)?;
        let e = &mut self.entries[id.idx as usize];
        match std::mem::replace(e, Entry::Busy(id.serial)) {
            Entry::Live(v) => Ok(v),
            other => {
                *e = other;
                Err(match e {
                    Entry::Busy(_) => VnetError::Busy(id),
                    _ => VnetError::NotReady(id),
                })
            }
        }
    }

    pub(crate) fn put_back(&mut self, vnet: Box<Vnet>) {
        let i = vnet.id.idx as usize;
        debug_assert!(matches!(self.entries[i], Entry::Busy(s) if s == vnet.id.serial));
        self.entries[i] = Entry::Live(vnet);
    }

    /// Look a vnet up by name.
    pub fn lookup(&self, name: &str) -> Option<VnetId> {
        self.names.get(name).copied().filter(|&id| self.is_live(id))
    }

    /// `VNET_FOREACH`: the ids of fully built vnets, in table order. Vnets
    /// being constructed or destroyed are never yielded.
    pub fn iter(&self) -> impl Iterator<Item = VnetId> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| match e {
            Entry::Live(v) => Some(v.id),
            Entry::Busy(s) => Some(VnetId {
                idx: i as u32,
                serial: *s,
            }),
            _ => None,
        })
    }
}
