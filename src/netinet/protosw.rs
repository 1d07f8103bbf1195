//! `ip_protox`: the transports by IP protocol number, as in_proto.c's
//! protocol switch and ipproto_register(9). The built-in ones are listed
//! here; a module may add its own. A protocol with no entry goes to the
//! raw sockets, and if none wants it, back as protocol unreachable.

use crate::kern::Kernel;
use crate::kern::global::GlobalKey;
use crate::kern::mbuf::Mbuf;
use crate::net::if_tunnel::{IPPROTO_GRE, IPPROTO_IPIP, tunnel_input};
use crate::netinet::ip::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, Ipv4Hdr};
use crate::vnet::Vnet;

/// A transport's input: the datagram for us (IP header still on), its
/// header, the interface it came in on and whether it came to a
/// broadcast address. The datagram comes back if the protocol did not
/// take it (a tunnel packet no tunnel is the end of).
pub type PrInput = fn(&mut Kernel, &mut Vnet, Mbuf, &Ipv4Hdr, u32, bool) -> Option<Mbuf>;

/// A transport's part in an ICMP error about a datagram it sent
/// (`pr_ctlinput`): the error's type, code and next-hop MTU, and the
/// quoted datagram (its IP header and at least 8 bytes more).
pub type PrCtlInput = fn(&mut Kernel, &mut Vnet, u8, u8, u16, &[u8]);

/// The table, one slot per protocol number.
pub struct Protox {
    input: [Option<PrInput>; 256],
    ctlinput: [Option<PrCtlInput>; 256],
}

/// The protocol switch's kernel-wide slot.
pub const PROTOX: GlobalKey<Protox> = GlobalKey::fixed(1);

/// Boot: the table with the built-in transports.
pub fn protox_attach(k: &mut Kernel) {
    let key = k.globals.register(Protox {
        input: [None; 256],
        ctlinput: [None; 256],
    });
    debug_assert!(k.globals.get(key).is_some() && k.globals.get(PROTOX).is_some());
    ipproto_register(k, IPPROTO_ICMP, |k, v, m, h, i, b| {
        crate::netinet::icmp::icmp_input(k, v, m, h, i, b);
        None
    });
    ipproto_register(k, IPPROTO_UDP, |k, v, m, h, i, b| {
        crate::netinet::udp::udp_input(k, v, m, h, i, b);
        None
    });
    ipproto_register(k, IPPROTO_TCP, |k, v, m, h, _, b| {
        crate::netinet::tcp_input::tcp_input(k, v, m, h, b);
        None
    });
    ipproto_register_ctlinput(k, IPPROTO_UDP, crate::netinet::udp::udp_ctlinput);
    ipproto_register_ctlinput(k, IPPROTO_TCP, crate::netinet::tcp_input::tcp_ctlinput);
    for p in [IPPROTO_IPIP, IPPROTO_GRE] {
        ipproto_register(k, p, |k, v, m, h, _, _| tunnel_input(k, v, m, h));
    }
}

/// `ipproto_register`: datagrams of protocol `proto` go to `input`.
pub fn ipproto_register(k: &mut Kernel, proto: u8, input: PrInput) {
    if let Some(t) = k.globals.get_mut(PROTOX) {
        t.input[proto as usize] = Some(input);
    }
}

/// Errors about datagrams of protocol `proto` go to `ctlinput`.
pub fn ipproto_register_ctlinput(k: &mut Kernel, proto: u8, ctlinput: PrCtlInput) {
    if let Some(t) = k.globals.get_mut(PROTOX) {
        t.ctlinput[proto as usize] = Some(ctlinput);
    }
}

/// `ipproto_unregister`.
pub fn ipproto_unregister(k: &mut Kernel, proto: u8) {
    if let Some(t) = k.globals.get_mut(PROTOX) {
        t.input[proto as usize] = None;
        t.ctlinput[proto as usize] = None;
    }
}

/// The transport for `proto`.
pub fn ip_protox(k: &Kernel, proto: u8) -> Option<PrInput> {
    k.globals.get(PROTOX)?.input[proto as usize]
}

/// The error handler for `proto`.
pub fn ip_ctlinput(k: &Kernel, proto: u8) -> Option<PrCtlInput> {
    k.globals.get(PROTOX)?.ctlinput[proto as usize]
}
