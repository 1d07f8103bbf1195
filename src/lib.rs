//! vimage: FreeBSD's VIMAGE network stack virtualization, in user space.
//!
//! Many independent network stacks ("vnets") live in one process; jails own
//! them; the FreeBSD userland drives them. See `docs/ARCHITECTURE.md` for
//! the layers, and [`Host`] for the front door:
//!
//! ```
//! let host = vimage::Host::new(Default::default());
//! host.exec("jail -c name=r1 vnet persist");
//! assert_eq!(host.exec("jls name").stdout, "r1\n");
//! ```

pub mod alloc;
mod host;
pub mod kern;
pub mod netinet;
pub mod userland;
pub mod vnet;

pub use host::{Host, Output, Stalled};
pub use kern::clock::{ClockKind, Time};
pub use kern::jail::Jid;
pub use kern::proc::{In, Out, Proc, Stdio};
pub use kern::{Config, Kernel};
pub use vnet::{Module, Prio, Vnet, VnetId, VnetKey};

/// Register the modules every kernel has, at the fixed slots their keys name.
pub(crate) fn register_builtin_modules(k: &mut Kernel) {
    let ip = k.module_register(netinet::ip::module());
    debug_assert_eq!(ip.map(|key| key.slot()), Ok(netinet::ip::IP.slot()));
}
