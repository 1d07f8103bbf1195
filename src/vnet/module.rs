//! Modules with per-vnet state: `VNET_DEFINE` + `VNET_SYSINIT` /
//! `VNET_SYSUNINIT` of vnet(9).
//!
//! A module declares its state type, a constructor and a destructor with a
//! [`Prio`] (`SI_SUB_*`, `SI_ORDER_*`), and the sysctls that read and write
//! that state. Registration while vnets exist constructs the module in every
//! one of them at once; unregistration destroys it everywhere.

use std::any::Any;
use std::rc::Rc;

use super::{Vnet, VnetError, VnetId, VnetKey};
use crate::kern::Kernel;
use crate::kern::netisr::{IfEvent, IfHook, NetisrHandler};
use crate::kern::sysctl::{Oid, Scalar};

/// A (subsystem, order) priority, the `SI_SUB_*`/`SI_ORDER_*` pair of
/// FreeBSD's `SYSINIT`. Constructors run in ascending order; ties run in
/// registration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prio {
    pub sub: u32,
    pub order: u32,
}

impl Prio {
    pub const fn new(sub: u32, order: u32) -> Prio {
        Prio { sub, order }
    }
}

// Subsystems from sys/sys/kernel.h, with FreeBSD's values.
pub const SI_SUB_VNET_PRELINK: u32 = 0x1E0_0000;
pub const SI_SUB_VNET: u32 = 0x21E_0000;
pub const SI_SUB_INIT_IF: u32 = 0x300_0000;
pub const SI_SUB_PROTO_BEGIN: u32 = 0x800_0000;
pub const SI_SUB_PROTO_IF: u32 = 0x840_0000;
pub const SI_SUB_PROTO_DOMAIN: u32 = 0x880_0000;
pub const SI_SUB_PROTO_IFATTACHDOMAIN: u32 = 0x880_8000;
pub const SI_SUB_PROTO_END: u32 = 0x8ff_ffff;
pub const SI_SUB_PSEUDO: u32 = 0x700_0000;
pub const SI_SUB_VNET_DONE: u32 = 0xdc0_0000;

pub const SI_ORDER_FIRST: u32 = 0x000_0000;
pub const SI_ORDER_SECOND: u32 = 0x000_0001;
pub const SI_ORDER_THIRD: u32 = 0x000_0002;
pub const SI_ORDER_FOURTH: u32 = 0x000_0003;
pub const SI_ORDER_MIDDLE: u32 = 0x100_0000;
pub const SI_ORDER_ANY: u32 = 0xfff_ffff;

type Ctor = Box<dyn Fn(&mut Kernel, &mut Vnet) -> Box<dyn Any>>;
type Dtor = Box<dyn Fn(&mut Kernel, &mut Vnet, Box<dyn Any>)>;
type TypedCtor<T> = Box<dyn Fn(&mut Kernel, &mut Vnet) -> T>;
type TypedDtor<T> = Box<dyn Fn(&mut Kernel, &mut Vnet, T)>;
type OidMaker<T> = Box<dyn FnOnce(VnetKey<T>) -> Oid>;

/// The description of a module, built with [`Module::new`] and handed to
/// [`Kernel::module_register`].
pub struct Module<T> {
    name: String,
    prio: Prio,
    ctor: TypedCtor<T>,
    dtor: Option<TypedDtor<T>>,
    oids: Vec<OidMaker<T>>,
    netisr: Vec<(u16, NetisrHandler)>,
    ifhooks: Vec<(IfEvent, IfHook)>,
    builtin: bool,
}

impl<T: 'static> Module<T> {
    /// A module named `name` whose per-vnet state `ctor` builds.
    pub fn new(name: &str, prio: Prio, ctor: impl Fn(&mut Kernel, &mut Vnet) -> T + 'static) -> Self {
        Module {
            name: name.to_string(),
            prio,
            ctor: Box::new(ctor),
            dtor: None,
            oids: Vec::new(),
            netisr: Vec::new(),
            ifhooks: Vec::new(),
            builtin: false,
        }
    }

    /// `netisr_register`: packets of `ethertype` (IP, ARP...) go to
    /// `handler`, for as long as the module is registered.
    pub fn netisr(mut self, ethertype: u16, handler: NetisrHandler) -> Self {
        self.netisr.push((ethertype, handler));
        self
    }

    /// `dom_ifattach`: `hook` runs whenever an interface arrives in a
    /// vnet (made there, or moved in), after it is on the list.
    pub fn ifattach(mut self, hook: IfHook) -> Self {
        self.ifhooks.push((IfEvent::Attach, hook));
        self
    }

    /// `hook` runs whenever an interface of a vnet goes up (`if_up`).
    pub fn ifup(mut self, hook: IfHook) -> Self {
        self.ifhooks.push((IfEvent::Up, hook));
        self
    }

    /// `dom_ifdetach`: `hook` runs whenever an interface leaves a vnet,
    /// to forget what the module knew of it.
    pub fn ifdetach(mut self, hook: IfHook) -> Self {
        self.ifhooks.push((IfEvent::Detach, hook));
        self
    }

    /// The destructor: takes the state back; runs in reverse priority order.
    /// Without one the state is simply dropped.
    pub fn destructor(mut self, dtor: impl Fn(&mut Kernel, &mut Vnet, T) + 'static) -> Self {
        self.dtor = Some(Box::new(dtor));
        self
    }

    /// A read-write per-vnet sysctl (`CTLFLAG_VNET | CTLFLAG_RW`) on a field
    /// of the state.
    pub fn sysctl<V: Scalar>(self, name: &str, descr: &str, field: fn(&mut T) -> &mut V) -> Self {
        let (name, descr) = (name.to_string(), descr.to_string());
        self.oid(move |k| Oid::vnet(k, &name, &descr, field))
    }

    /// A read-write per-vnet sysctl whose value must lie in `min..=max`.
    pub fn sysctl_range<V: Scalar>(
        self,
        name: &str,
        descr: &str,
        field: fn(&mut T) -> &mut V,
        min: i64,
        max: i64,
    ) -> Self {
        let (name, descr) = (name.to_string(), descr.to_string());
        self.oid(move |k| Oid::vnet(k, &name, &descr, field).range(min, max))
    }

    /// Any sysctl built from this module's key (read-only nodes, statistics
    /// structures, nodes with their own handler).
    pub fn oid(mut self, make: impl FnOnce(VnetKey<T>) -> Oid + 'static) -> Self {
        self.oids.push(Box::new(make));
        self
    }

    pub(crate) fn builtin(mut self) -> Self {
        self.builtin = true;
        self
    }
}

/// A registered module, type-erased.
pub(crate) struct ModInfo {
    pub name: String,
    pub prio: Prio,
    pub seq: u64,
    pub builtin: bool,
    ctor: Ctor,
    dtor: Dtor,
}

/// The module registry: truly global to the kernel, small and explicit.
#[derive(Default)]
pub struct ModuleRegistry {
    /// By slot; `None` once unregistered (slots are never reused, so a stale
    /// key finds nothing).
    slots: Vec<Option<Rc<ModInfo>>>,
    /// Slots in constructor order.
    order: Rc<[usize]>,
    seq: u64,
}

impl ModuleRegistry {
    fn sort(&mut self) {
        let mut v: Vec<usize> = (0..self.slots.len()).filter(|&i| self.slots[i].is_some()).collect();
        v.sort_by_key(|&i| {
            let m = self.slots[i].as_ref().map(|m| (m.prio, m.seq));
            m.unwrap_or((Prio::new(u32::MAX, u32::MAX), u64::MAX))
        });
        self.order = v.into();
    }

    /// (slot, name, priority) of every registered module, in constructor order.
    pub fn list(&self) -> Vec<(usize, String, Prio)> {
        self.order
            .iter()
            .filter_map(|&i| self.slots[i].as_ref().map(|m| (i, m.name.clone(), m.prio)))
            .collect()
    }
}

impl Kernel {
    /// Register a module: it gets a slot in every vnet, and is constructed
    /// at once in every vnet that exists (late registration).
    pub fn module_register<T: 'static>(&mut self, m: Module<T>) -> Result<VnetKey<T>, VnetError> {
        if self.vnets.in_progress > 0 {
            return Err(VnetError::RegistryBusy);
        }
        let slot = self.modules.slots.len();
        let key = VnetKey::fixed(slot as u32);
        let ctor = m.ctor;
        let dtor = m.dtor;
        let info = Rc::new(ModInfo {
            name: m.name,
            prio: m.prio,
            seq: self.modules.seq,
            builtin: m.builtin,
            ctor: Box::new(move |k, v| Box::new(ctor(k, v))),
            dtor: Box::new(move |k, v, state| {
                if let (Some(d), Ok(s)) = (&dtor, state.downcast::<T>()) {
                    d(k, v, *s)
                }
            }),
        });
        self.modules.seq += 1;
        self.modules.slots.push(Some(info.clone()));
        self.modules.sort();
        for make in m.oids {
            let mut oid = make(key);
            oid.owner = Some(slot);
            self.sysctl.add(oid);
        }
        for (ethertype, handler) in m.netisr {
            self.netisr.register(ethertype, handler, Some(slot));
        }
        for (ev, hook) in m.ifhooks {
            self.netisr.register_ifhook(ev, hook, Some(slot));
        }
        let ids: Vec<VnetId> = self.vnets.iter().collect();
        self.vnets.in_progress += 1;
        for id in ids {
            if let Ok(mut v) = self.vnets.take(id) {
                let s = (info.ctor)(self, &mut v);
                v.slot_put(slot, s);
                self.vnets.put_back(v);
            }
        }
        self.vnets.in_progress -= 1;
        Ok(key)
    }

    /// Unregister a module: its destructor runs in every vnet, its sysctls
    /// go, and its key finds nothing from now on.
    pub fn module_unregister<T: 'static>(&mut self, key: VnetKey<T>) -> Result<(), VnetError> {
        if self.vnets.in_progress > 0 {
            return Err(VnetError::RegistryBusy);
        }
        let slot = key.slot();
        let info = match self.modules.slots.get(slot) {
            Some(Some(m)) => m.clone(),
            _ => return Err(VnetError::NoSuchModule),
        };
        if info.builtin {
            return Err(VnetError::Builtin(info.name.clone()));
        }
        let ids: Vec<VnetId> = self.vnets.iter().collect();
        self.vnets.in_progress += 1;
        for id in ids {
            if let Ok(mut v) = self.vnets.take(id) {
                if let Some(s) = v.slot_take(slot) {
                    (info.dtor)(self, &mut v, s);
                }
                self.vnets.put_back(v);
            }
        }
        self.vnets.in_progress -= 1;
        self.modules.slots[slot] = None;
        self.modules.sort();
        self.sysctl.remove_owned(slot);
        self.netisr.remove_owned(slot);
        Ok(())
    }

    /// Create a vnet: every registered constructor runs, in ascending
    /// priority, before the vnet becomes visible to lookups and iteration.
    pub fn vnet_create(&mut self, name: Option<&str>) -> Result<VnetId, VnetError> {
        let mut v = self.vnets.reserve(name, self.seed)?;
        let id = v.id();
        let order = self.modules.order.clone();
        v.slots.reserve_exact(self.modules.slots.len());
        self.vnets.in_progress += 1;
        for &slot in order.iter() {
            if let Some(info) = self.modules.slots[slot].clone() {
                let s = (info.ctor)(self, &mut v);
                v.slot_put(slot, s);
            }
        }
        self.vnets.in_progress -= 1;
        self.vnets.install(v);
        Ok(id)
    }

    /// Destroy a vnet: it leaves the list first, then every destructor runs
    /// in exactly the reverse of constructor order, then all is freed.
    pub fn vnet_destroy(&mut self, id: VnetId) -> Result<(), VnetError> {
        if id == self.vnet0 {
            return Err(VnetError::Vnet0);
        }
        let mut v = self.vnets.begin_destroy(id)?;
        let order = self.modules.order.clone();
        self.vnets.in_progress += 1;
        for &slot in order.iter().rev() {
            if let (Some(info), Some(s)) = (self.modules.slots[slot].clone(), v.slot_take(slot)) {
                (info.dtor)(self, &mut v, s);
            }
        }
        self.vnets.in_progress -= 1;
        if self.curvnet == Some(id) {
            self.curvnet = None;
        }
        self.vnets.release(v);
        Ok(())
    }

    /// `VNET_FOREACH`: ids of all fully built vnets.
    pub fn vnet_foreach(&self) -> Vec<VnetId> {
        self.vnets.iter().collect()
    }

    /// The module registry (for listing).
    pub fn modules(&self) -> &ModuleRegistry {
        &self.modules
    }
}
