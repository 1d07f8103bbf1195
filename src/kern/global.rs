//! State a layer keeps for the whole kernel rather than per vnet (the
//! interface index's lines and cloner units, IP's protocol switch), found
//! by a typed key as per-vnet state is by a `VnetKey`.

use std::any::Any;
use std::marker::PhantomData;

/// A typed handle to one layer's kernel-wide state.
pub struct GlobalKey<T> {
    slot: u32,
    _t: PhantomData<fn() -> T>,
}

impl<T> GlobalKey<T> {
    /// A key for state the built-in layers register at boot, at a slot
    /// fixed at compile time.
    pub(crate) const fn fixed(slot: u32) -> Self {
        GlobalKey { slot, _t: PhantomData }
    }
}

impl<T> Clone for GlobalKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for GlobalKey<T> {}

/// The kernel's global slots.
#[derive(Default)]
pub struct Globals(Vec<Box<dyn Any>>);

impl Globals {
    /// Keep `t` for the life of the kernel; its key.
    pub fn register<T: Any>(&mut self, t: T) -> GlobalKey<T> {
        self.0.push(Box::new(t));
        GlobalKey::fixed((self.0.len() - 1) as u32)
    }

    pub fn get<T: Any>(&self, key: GlobalKey<T>) -> Option<&T> {
        self.0.get(key.slot as usize)?.downcast_ref()
    }

    pub fn get_mut<T: Any>(&mut self, key: GlobalKey<T>) -> Option<&mut T> {
        self.0.get_mut(key.slot as usize)?.downcast_mut()
    }
}
