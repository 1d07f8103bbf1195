//! The current vnet: `CURVNET_SET` / `CURVNET_RESTORE` of vnet(9).
//!
//! [`Kernel::curvnet_set`] returns a guard that derefs to the kernel and
//! restores the previous context when it goes out of scope — on every exit,
//! including a panic unwinding through it. Guards nest.

use std::ops::{Deref, DerefMut};

use super::{VnetError, VnetId};
use crate::kern::Kernel;

/// A scoped current-vnet context; see the module docs.
pub struct CurVnet<'a> {
    k: &'a mut Kernel,
    saved: Option<VnetId>,
}

impl Kernel {
    /// `CURVNET_SET(vnet)`: make `vnet` current until the guard drops.
    /// Setting a vnet that does not exist (or is destroyed) is an error.
    pub fn curvnet_set(&mut self, vnet: VnetId) -> Result<CurVnet<'_>, VnetError> {
        if !self.vnets.is_live(vnet) {
            return Err(VnetError::NoSuchVnet(vnet.to_string()));
        }
        let saved = self.curvnet.replace(vnet);
        Ok(CurVnet { k: self, saved })
    }

    /// The current vnet, or [`VnetError::NoCurVnet`] outside any context.
    pub fn curvnet(&self) -> Result<VnetId, VnetError> {
        self.curvnet.ok_or(VnetError::NoCurVnet)
    }
}

impl Deref for CurVnet<'_> {
    type Target = Kernel;
    fn deref(&self) -> &Kernel {
        self.k
    }
}

impl DerefMut for CurVnet<'_> {
    fn deref_mut(&mut self) -> &mut Kernel {
        self.k
    }
}

impl Drop for CurVnet<'_> {
    /// `CURVNET_RESTORE()`.
    fn drop(&mut self) {
        self.k.curvnet = self.saved;
    }
}
