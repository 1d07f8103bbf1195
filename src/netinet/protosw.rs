//! Where the IP layers and the transports meet. `ip_protox`: the
//! transports by IP protocol number, as in_proto.c's protocol switch and
//! ipproto_register(9), one table for both families. The built-in ones
//! are listed here; a module may add its own. A protocol with no entry
//! goes to the raw sockets, and if none wants it, back as protocol
//! unreachable. Going down, [`pr_output`] is the one output a transport
//! sends through, whatever the family.

use std::net::IpAddr;

use crate::kern::Kernel;
use crate::kern::global::GlobalKey;
use crate::kern::mbuf::Mbuf;
use crate::net::if_tunnel::{IPPROTO_GRE, IPPROTO_IPIP, tunnel_input};
use crate::netinet::icmp::{ICMP_UNREACH, ICMP_UNREACH_PORT, icmp_error};
use crate::netinet::ip::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use crate::netinet::ip_output::{IpOpts, IpOutErr, ip_output};
use crate::netinet6::icmp6::icmp6_error;
use crate::netinet6::ip6_output::{Ip6Opts, ip6_output};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT};

/// What the IP layer tells a transport about a datagram for us, of
/// either family (what FreeBSD's transports read from `struct ip` or
/// `struct ip6_hdr` and the mbuf's header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpFacts {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// The transport's bytes are `m.data()[off..end]` (the IP header and
    /// any extension headers come before).
    pub off: usize,
    pub end: usize,
    /// The interface it came in on.
    pub ifindex: u32,
    /// It came to a broadcast or multicast address.
    pub bcast: bool,
}

/// A transport's input: the datagram for us (IP header still on) and
/// the IP layer's facts. The datagram comes back if the protocol did not
/// take it (a tunnel packet no tunnel is the end of).
pub type PrInput = fn(&mut Kernel, &mut Vnet, Mbuf, &IpFacts) -> Option<Mbuf>;

/// An ICMP or ICMPv6 error as a transport sees it (FreeBSD's `PRC_*`
/// codes, to which `icmp_input` and `icmp6_input` map their types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prc {
    /// Port or protocol unreachable: the peer refuses.
    UnreachPort,
    /// The host or network cannot be reached.
    Unreach,
    /// Too big for the path; the next hop's MTU (RFC 1191, RFC 8201).
    MsgSize(u32),
}

/// An error about a datagram we sent, with what it quotes of it.
#[derive(Clone, Copy, Debug)]
pub struct CtlInput<'a> {
    pub prc: Prc,
    /// The quoted datagram's source (ours) and destination.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The quoted transport header: at least 8 bytes.
    pub quote: &'a [u8],
}

/// A transport's part in an error about a datagram it sent (`pr_ctlinput`).
pub type PrCtlInput = fn(&mut Kernel, &mut Vnet, &CtlInput);

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
    ipproto_register(k, IPPROTO_ICMP, |k, v, m, f| {
        crate::netinet::icmp::icmp_input(k, v, m, f);
        None
    });
    ipproto_register(k, IPPROTO_UDP, |k, v, m, f| {
        crate::netinet::udp::udp_input(k, v, m, f);
        None
    });
    ipproto_register(k, IPPROTO_TCP, |k, v, m, f| {
        crate::netinet::tcp_input::tcp_input(k, v, m, f);
        None
    });
    ipproto_register(k, crate::netinet6::ip6::IPPROTO_ICMPV6, |k, v, m, f| {
        crate::netinet6::icmp6::icmp6_input(k, v, m, f);
        None
    });
    ipproto_register_ctlinput(k, IPPROTO_UDP, crate::netinet::udp::udp_ctlinput);
    ipproto_register_ctlinput(k, IPPROTO_TCP, crate::netinet::tcp_input::tcp_ctlinput);
    for p in [IPPROTO_IPIP, IPPROTO_GRE] {
        ipproto_register(k, p, tunnel_input);
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

/// A transport's datagram out, by IPv4 or IPv6 as the addresses are
/// (FreeBSD's transports choose `ip_output` or `ip6_output` by the
/// socket's family). `opts.src` is `src`'s.
pub fn pr_output(
    k: &mut Kernel,
    v: &mut Vnet,
    m: Mbuf,
    src: IpAddr,
    dst: IpAddr,
    opts: IpOpts,
) -> Result<(), IpOutErr> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ip_output(
            k,
            v,
            m,
            d.to_bits(),
            &IpOpts {
                src: Some(s.to_bits()),
                ..opts
            },
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let o = Ip6Opts {
                hlim: opts.ttl,
                tclass: opts.tos,
                ifindex: opts.ifindex,
                proto: opts.proto,
                dontfrag: opts.df,
                unspec_src: false,
            };
            ip6_output(k, v, m, s, d, &o)
        }
        // Never a datagram of two families.
        _ => Err(IpOutErr::Invalid),
    }
}

/// Tell the sender of a datagram that no socket wants it: ICMP's or
/// ICMPv6's port unreachable.
pub fn pr_unreach_port(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    if f.src.is_ipv6() {
        icmp6_error(
            k,
            v,
            &m.data()[..f.end],
            ICMP6_DST_UNREACH,
            ICMP6_DST_UNREACH_NOPORT,
            0,
            f.ifindex,
        );
    } else {
        icmp_error(
            k,
            v,
            &m.data()[..f.end],
            ICMP_UNREACH,
            ICMP_UNREACH_PORT,
            0,
            Some(f.ifindex),
        );
    }
}
