//! IPv6 (RFC 8200): per-vnet state, statistics and knobs (`V_ip6_*`,
//! `struct ip6stat`), the vnet's IPv6 addresses and its IPv6 routing
//! table, as IP's module is IPv4's.

use crate::kern::counter::Counters;
use crate::net::route::RouteTable;
use crate::net::rtsock::RtFamily;
use crate::netinet6::frag6::Frag6;
use crate::netinet6::in6::In6Ifaddr;
use crate::vnet::module::{SI_ORDER_THIRD, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

pub use crate::wire::ipv6::{
    IP6_HDR_LEN, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_ROUTING,
};

/// The smallest MTU every IPv6 link has (RFC 8200 §5).
pub const IPV6_MMTU: u32 = 1280;
/// The largest payload without a jumbogram.
pub const IPV6_MAXPACKET: usize = 65535;

crate::stats! {
    /// IPv6 statistics (`struct ip6stat`), as netstat -s -p ip6 names them.
    #[derive(Copy)]
    pub struct Ip6Stat {
        total,
        tooshort,
        toosmall,
        fragments,
        fragdropped,
        fragtimeout,
        fragoverflow,
        forward,
        cantforward,
        redirectsent,
        delivered,
        localout,
        odropped,
        reassembled,
        atomicfrags,
        fragmented,
        ofragments,
        cantfrag,
        badoptions,
        noroute,
        badvers,
        rawout,
        badscope,
        notmember,
        toomanyhdr,
        sources_none,
        noproto,
    }
}

/// Per-vnet IPv6 state.
#[derive(Debug)]
pub struct Ip6 {
    /// `net.inet6.ip6.forwarding`: act as a router.
    pub forwarding: bool,
    /// `net.inet6.ip6.redirect`: a router sends redirects (RFC 4861 §8.2).
    pub redirect: bool,
    /// `net.inet6.ip6.hlim`: hop limit of packets this vnet originates.
    pub hlim: i32,
    /// `net.inet6.ip6.v6only`: an AF_INET6 socket takes IPv6 only
    /// (IPV6_V6ONLY's default; RFC 3493 §5.3).
    pub v6only: bool,
    /// `net.inet6.ip6.auto_linklocal`: every interface gets a link-local
    /// address when it arrives.
    pub auto_linklocal: bool,
    /// `net.inet6.ip6.accept_rtadv`: interfaces arrive accepting router
    /// advertisements.
    pub accept_rtadv: bool,
    /// `net.inet6.ip6.dad_count`: solicitations DAD sends (0: none).
    pub dad_count: i32,
    /// `net.inet6.ip6.maxifprefixes`, `net.inet6.ip6.maxifdefrouters`:
    /// prefixes and default routers learned from advertisements, per
    /// interface (an RA flood meets them).
    pub maxifprefixes: i32,
    pub maxifdefrouters: i32,
    /// `net.inet6.ip6.maxfragpackets`: datagrams awaiting reassembly.
    pub maxfragpackets: i32,
    /// `net.inet6.ip6.maxfrags`: fragments held in all.
    pub maxfrags: i32,
    /// `net.inet6.ip6.maxfragsperpacket`: fragments per datagram.
    pub maxfragsperpacket: i32,
    pub stats: Counters<Ip6Stat>,
    /// The vnet's IPv6 addresses, on every interface (`V_in6_ifaddrhead`).
    pub ifaddrs: Vec<In6Ifaddr>,
    /// The IPv6 routing table (`rt_tables[AF_INET6]`).
    pub rt: RouteTable<u128>,
    pub frag: Frag6,
    /// The next fragment identification.
    pub id: u32,
}

impl Default for Ip6 {
    fn default() -> Self {
        Ip6 {
            forwarding: false,
            redirect: true,
            hlim: 64,
            v6only: true,
            auto_linklocal: true,
            accept_rtadv: false,
            dad_count: 1,
            maxifprefixes: 16,
            maxifdefrouters: 16,
            maxfragpackets: 1024,
            maxfrags: 4096,
            maxfragsperpacket: 64,
            stats: Default::default(),
            ifaddrs: Vec::new(),
            rt: RouteTable::default(),
            frag: Frag6::default(),
            id: 0,
        }
    }
}

/// The IPv6 module's slot.
pub const IP6: VnetKey<Ip6> = VnetKey::fixed(8);

/// IPv6's table, for the routing socket and the RIB.
impl RtFamily for u128 {
    fn ip(self) -> std::net::IpAddr {
        std::net::Ipv6Addr::from(self).into()
    }
    fn table(v: &Vnet) -> Option<&RouteTable<u128>> {
        v.get(IP6).map(|ip6| &ip6.rt)
    }
    fn table_mut(v: &mut Vnet) -> &mut RouteTable<u128> {
        &mut v.builtin(IP6).rt
    }
}

pub(crate) fn module() -> Module<Ip6> {
    Module::new("ip6", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_THIRD), |_, v| {
        let mut ip6 = Ip6 {
            id: v.random() as u32,
            ..Ip6::default()
        };
        crate::netinet6::in6::in6_loopback_init(v, &mut ip6);
        ip6
    })
    .destructor(|k, _, ip6| ip6.frag.drain(k))
    .netisr(crate::net::ethernet::ETHERTYPE_IPV6, crate::netinet6::ip6_input::ip6_input)
    .ifattach(crate::netinet6::in6::in6_ifattach)
    .ifup(crate::netinet6::in6::in6_ifattach)
    .ifdetach(crate::netinet6::in6::in6_ifdetach)
    .sysctl(
        "net.inet6.ip6.forwarding",
        "Enable forwarding of IPv6 packets between interfaces",
        |s| &mut s.forwarding,
    )
    .sysctl(
        "net.inet6.ip6.redirect",
        "Send ICMPv6 redirects for unforwardable IPv6 packets",
        |s| &mut s.redirect,
    )
    .sysctl_range(
        "net.inet6.ip6.hlim",
        "Default hop limit to use for outgoing IPv6 packets",
        |s| &mut s.hlim,
        1,
        255,
    )
    .sysctl(
        "net.inet6.ip6.v6only",
        "Restrict AF_INET6 sockets to IPv6 addresses only",
        |s| &mut s.v6only,
    )
    .sysctl(
        "net.inet6.ip6.auto_linklocal",
        "Default value of per-interface flag for automatically adding an IPv6 link-local address to interfaces when attached",
        |s| &mut s.auto_linklocal,
    )
    .sysctl(
        "net.inet6.ip6.accept_rtadv",
        "Default value of per-interface flag for accepting ICMPv6 RA messages",
        |s| &mut s.accept_rtadv,
    )
    .sysctl_range(
        "net.inet6.ip6.dad_count",
        "Number of ICMPv6 NS messages sent during duplicate address detection",
        |s| &mut s.dad_count,
        0,
        15,
    )
    .sysctl_range(
        "net.inet6.ip6.maxifprefixes",
        "Maximum number of prefixes created by route advertisement per interface",
        |s| &mut s.maxifprefixes,
        0,
        1 << 16,
    )
    .sysctl_range(
        "net.inet6.ip6.maxifdefrouters",
        "Maximum number of default routers created by route advertisement per interface",
        |s| &mut s.maxifdefrouters,
        0,
        1 << 16,
    )
    .sysctl_range(
        "net.inet6.ip6.maxfragpackets",
        "Default maximum number of outstanding fragmented IPv6 packets",
        |s| &mut s.maxfragpackets,
        0,
        1 << 20,
    )
    .sysctl_range(
        "net.inet6.ip6.maxfrags",
        "Maximum allowed number of outstanding IPv6 packet fragments",
        |s| &mut s.maxfrags,
        0,
        1 << 22,
    )
    .sysctl_range(
        "net.inet6.ip6.maxfragsperpacket",
        "Maximum allowed number of fragments per packet",
        |s| &mut s.maxfragsperpacket,
        0,
        8192,
    )
    .oid(|k| {
        crate::kern::sysctl::Oid::vnet_stats(k, "net.inet6.ip6.stats", "IP6 statistics (struct ip6stat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}
