//! rtsol(8) (`rtsold -1`): router solicitations (RFC 4861 §6.3.7) on
//! each interface named, until a router advertises itself there or
//! MAX_RTR_SOLICITATIONS went unanswered. The kernel takes the
//! advertisement (nd6_rtr.rs) if the interface accepts them; `-F` makes
//! it so, as rtsold's does.

use std::net::Ipv6Addr;
use std::time::Duration;

use clap::Parser;

use crate::errln;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::netinet::raw_ip::rip_attach;
use crate::netinet6::icmp6::rip6_output;
use crate::netinet6::in6::{in6_clearscope, in6_fmt, in6_linklocal, in6_setscope};
use crate::netinet6::ip6::{IP6, IPPROTO_ICMPV6};
use crate::netinet6::ip6_output::Ip6Opts;
use crate::netinet6::nd6::{ND6, ND6_IFF_ACCEPT_RTADV, nd6_ifflags, nd6_setflag};
use crate::userland::ping::recvif_until;
use crate::wire::icmpv6::{self, ND_ROUTER_ADVERT};
use crate::wire::ipv6::{Packet, ext_walk};

/// RFC 4861 §10's host constants.
const MAX_RTR_SOLICITATIONS: u32 = 3;
const RTR_SOLICITATION_INTERVAL: Duration = Duration::from_secs(4);

/// send router solicitation packets (rtsol(8))
#[derive(Parser, Debug)]
#[command(name = "rtsol", disable_help_flag = true, disable_version_flag = true)]
pub struct RtsolArgs {
    /// Debugging messages.
    #[arg(short = 'd')]
    debug: bool,
    /// More debugging messages.
    #[arg(short = 'D')]
    more_debug: bool,
    /// Make the kernel a host that accepts advertisements on these
    /// interfaces (forwarding off, accept_rtadv on).
    #[arg(short = 'F')]
    force: bool,
    #[arg(required = true, value_name = "interface")]
    interfaces: Vec<String>,
}

pub async fn rtsol(p: Proc, argv: Vec<String>) -> i32 {
    let a: RtsolArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let debug = a.debug || a.more_debug;
    let mut ifs = Vec::new();
    for name in &a.interfaces {
        let found = p.vnet(|k, v| {
            let index = v.builtin(IF).by_name(name).map(|i| i.index)?;
            if a.force {
                v.builtin(IP6).forwarding = false;
                nd6_setflag(k, v, index, ND6_IFF_ACCEPT_RTADV, true);
            }
            Some((index, nd6_ifflags(v, index) & ND6_IFF_ACCEPT_RTADV != 0))
        });
        match found {
            Ok(Some((index, accepts))) => {
                if !accepts {
                    errln!(
                        p,
                        "rtsol: {name}: accept_rtadv is off; advertisements will be ignored (use -F)"
                    );
                }
                ifs.push((index, name.clone()));
            }
            Ok(None) => {
                errln!(p, "rtsol: {name}: interface not found");
                return 1;
            }
            Err(e) => {
                errln!(p, "rtsol: {e}");
                return 1;
            }
        }
    }
    let Ok(sock) = p.vnet(|_, v| rip_attach(v, IPPROTO_ICMPV6)) else {
        return 1;
    };
    // §6.3.7: a random delay first; the link-local address must be
    // ready (its DAD over) to send from it.
    let delay = p.vnet(|_, v| v.random() % 1_000_000).unwrap_or(0);
    p.sleep(Duration::from_micros(delay)).await;
    for (index, name) in ifs {
        let ready_by = p.now().saturating_add(Duration::from_secs(3));
        while p.vnet(|_, v| in6_linklocal(v, index).is_none()).unwrap_or(false) && p.now() < ready_by {
            p.sleep(Duration::from_millis(100)).await;
        }
        let mut heard = false;
        for n in 0..MAX_RTR_SOLICITATIONS {
            if p.intr.raised() {
                return 1;
            }
            let sent = p.vnet(|k, v| {
                let src = in6_linklocal(v, index);
                let mac = v.builtin(IF).get(index).map(|i| i.lladdr);
                let msg = icmpv6::rs_emit(src.and(mac));
                let dst = in6_setscope(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2), index);
                let src = src.unwrap_or(Ipv6Addr::UNSPECIFIED);
                let mut b = msg;
                icmpv6::Packet::new_unchecked(&mut b[..]).fill_checksum(&in6_clearscope(src), &in6_clearscope(dst));
                let o = Ip6Opts {
                    hlim: Some(255),
                    ifindex: Some(index),
                    proto: IPPROTO_ICMPV6,
                    unspec_src: src.is_unspecified(),
                    ..Ip6Opts::default()
                };
                v.builtin(ND6).stats.rsout += 1;
                rip6_output(k, v, &b, src, dst, &o).map(|_| in6_fmt(v, &src))
            });
            match sent {
                Ok(Ok(src)) if debug => errln!(p, "rtsol: send RS on {name} from {src} (probe {})", n + 1),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    errln!(p, "rtsol: sendmsg on {name}: {e}");
                    break;
                }
                Err(e) => {
                    errln!(p, "rtsol: {e}");
                    return 1;
                }
            }
            let deadline = p.now().saturating_add(RTR_SOLICITATION_INTERVAL);
            while let Some((_, from_if, d)) = recvif_until(&p, &sock, Some(deadline)).await {
                let (Ok(ip), Ok(c)) = (Packet::new_checked(&d[..]), ext_walk(&d)) else {
                    continue;
                };
                if from_if != index || d.get(c.off) != Some(&ND_ROUTER_ADVERT) {
                    continue;
                }
                if debug {
                    let from = p
                        .vnet(|_, v| in6_fmt(v, &in6_setscope(ip.src_addr(), index)))
                        .unwrap_or_default();
                    errln!(p, "rtsol: received RA from {from} on an interface {name}");
                }
                heard = true;
                break;
            }
            if heard {
                break;
            }
        }
        if !heard && debug {
            errln!(
                p,
                "rtsol: No answer after sending {MAX_RTR_SOLICITATIONS} RSs on {name}"
            );
        }
    }
    0
}
