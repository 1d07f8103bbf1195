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
#[cfg(unix)]
pub mod daemon;
pub mod fuzz;
mod host;
pub mod kern;
pub mod lab;
pub mod net;
pub mod netinet;
pub mod netinet6;
pub mod routing;
pub mod socket;
pub mod userland;
pub mod vnet;
pub mod wire;

pub use host::{Host, Output, Stalled};
pub use kern::clock::{ClockKind, Time};
pub use kern::jail::Jid;
pub use kern::proc::{In, Out, Proc, Stdio};
pub use kern::{Config, Kernel};
pub use vnet::{Module, Prio, Vnet, VnetId, VnetKey};

impl Kernel {
    /// Boot with the network stack: the layers registered in order.
    pub fn new(cfg: &Config) -> Kernel {
        Kernel::boot(cfg, register_builtin_modules)
    }
}

/// Register the modules every kernel has, at the fixed slots their keys
/// name, in the order of those slots.
fn register_builtin_modules(k: &mut Kernel) {
    net::ifnet::if_attach_global(k);
    netinet::protosw::protox_attach(k);
    k.prison_on_remove(netinet::in_jail::prison_remove_ip4);
    let slots = [
        k.module_register(net::ifnet::module()).map(|x| x.slot()),
        k.module_register(net::route::module()).map(|x| x.slot()),
        k.module_register(netinet::arp::module()).map(|x| x.slot()),
        k.module_register(netinet::ip::module()).map(|x| x.slot()),
        k.module_register(netinet::icmp::module()).map(|x| x.slot()),
        k.module_register(netinet::udp::module()).map(|x| x.slot()),
        k.module_register(netinet::raw_ip::module()).map(|x| x.slot()),
        k.module_register(netinet::tcp_var::module()).map(|x| x.slot()),
        k.module_register(netinet6::ip6::module()).map(|x| x.slot()),
        k.module_register(netinet6::nd6::module()).map(|x| x.slot()),
        k.module_register(netinet6::icmp6::module()).map(|x| x.slot()),
        k.module_register(net::rtsock::module()).map(|x| x.slot()),
    ];
    assert_eq!(
        slots,
        [
            Ok(0),
            Ok(1),
            Ok(2),
            Ok(3),
            Ok(4),
            Ok(5),
            Ok(6),
            Ok(7),
            Ok(8),
            Ok(9),
            Ok(10),
            Ok(11)
        ],
        "builtin module slots"
    );
}
