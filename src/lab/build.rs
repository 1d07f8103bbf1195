//! Build a lab straight through the kernel — jails, epairs moved into
//! them, bridges, addresses, emulation, routes — as the commands would,
//! without parsing a command per step (a 10,000-node grid in well under
//! a second).

use crate::host::Host;
use crate::kern::Kernel;
use crate::kern::jail::{JailParams, JailSys, Jid};
use crate::net::bridge::bridge_addm;
use crate::net::if_clone::if_clone_create;
use crate::net::ifnet::{IF, IFF_UP, if_vmove};
use crate::net::pipe::Pipe;
use crate::net::radix::Key;
use crate::net::route::{Gateway, ROUTE, RTF_GATEWAY, RTF_STATIC, RouteTable, Rtentry};
use crate::netinet::in_::in_aifaddr;
use crate::netinet::ip::IP;
use crate::netinet6::in6::in6_aifaddr;
use crate::netinet6::ip6::IP6;
use crate::vnet::{Vnet, VnetId};

use super::{Emu, Kind, Lab, Route};

/// What was made: each node's jail and vnet, each link's interface names.
#[derive(Clone, Debug)]
pub struct Built {
    pub jids: Vec<Jid>,
    pub vnets: Vec<VnetId>,
    /// (interface in `a`, interface in `b`) per link.
    pub ifnames: Vec<(String, String)>,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Apply emulation words to an interface's pipe (as `pipe IF config`).
pub fn set_pipe(k: &mut Kernel, vnet: VnetId, ifname: &str, emu: &Emu) -> Result<(), String> {
    k.with_vnet(vnet, |_, v| {
        let ifp = v
            .builtin(IF)
            .list
            .iter_mut()
            .find(|i| i.name == ifname)
            .ok_or_else(|| format!("{ifname}: no such interface"))?;
        let base = ifp.pipe.as_ref().map(|p| p.conf.clone()).unwrap_or_default();
        let conf = crate::userland::pipe::parse_conf(&emu.0, base)?;
        match ifp.pipe.as_mut() {
            Some(p) => p.conf = conf,
            None => ifp.pipe = Some(Box::new(Pipe::new(conf))),
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?
}

/// Build `lab` in `host`.
pub fn build(host: &Host, lab: &Lab) -> Result<Built, String> {
    let mut k = host.kernel();
    let mut jids = Vec::with_capacity(lab.nodes.len());
    let mut vnets = Vec::with_capacity(lab.nodes.len());
    for n in &lab.nodes {
        let p = JailParams {
            name: Some(n.name.clone()),
            vnet: Some(JailSys::New),
            persist: Some(true),
            hostname: Some(n.name.clone()),
            ..JailParams::default()
        };
        let jid = k.jail_create(Jid::HOST, &p, false).map_err(|e| err(&n.name, e))?;
        let vnet = k.prison_vnet(jid).map_err(|e| err(&n.name, e))?;
        // A lab's addresses are planned: none waits for DAD (as FreeBSD's
        // own tests say `no_dad`); a node's sysctl can ask for it again.
        k.with_vnet(vnet, |_, v| v.builtin(IP6).dad_count = 0)
            .map_err(|e| err(&n.name, e))?;
        if n.kind == Kind::Router {
            k.with_vnet(vnet, |_, v| {
                v.builtin(IP).forwarding = true;
                v.builtin(IP6).forwarding = true;
            })
            .map_err(|e| err(&n.name, e))?;
        }
        jids.push(jid);
        vnets.push(vnet);
    }
    // A bridge in every switch.
    let mut bridges = vec![None; lab.nodes.len()];
    for (i, n) in lab.nodes.iter().enumerate() {
        match n.kind {
            Kind::Switch => {
                let br = k
                    .with_vnet(vnets[i], |k, v| {
                        let name = if_clone_create(k, v, "bridge", None)?;
                        let ifp = v.builtin(IF).by_name_mut(&name);
                        Ok(ifp.map(|x| {
                            x.flags |= IFF_UP | crate::net::ifnet::IFF_LOWER_UP;
                            x.index
                        }))
                    })
                    .map_err(|e| err(&n.name, e))?
                    .map_err(|e: crate::net::ifnet::IfError| err(&n.name, e))?;
                bridges[i] = br;
            }
            _ if n.tap.is_some() => {
                let dev = n.tap.clone();
                k.with_vnet(vnets[i], |k, v| if_clone_create(k, v, "tap", dev.as_deref()))
                    .map_err(|e| err(&n.name, e))?
                    .map_err(|e| err(&n.name, e))?;
            }
            _ => {}
        }
    }
    let mut ifnames = Vec::with_capacity(lab.links.len());
    for l in &lab.links {
        // Made on the host and moved in, as jail(8)'s vnet.interface does:
        // an end whose jail goes away comes home to the host.
        let (v0, va, vb) = (k.vnet0(), vnets[l.a], vnets[l.b]);
        let (a_name, indexes) = k
            .with_vnet(v0, |k, v| {
                let a = if_clone_create(k, v, "epair", None)?;
                let b = format!("{}b", &a[..a.len() - 1]);
                let list = &v.builtin(IF);
                let ix = list.by_name(&a).map(|i| i.index).zip(list.by_name(&b).map(|i| i.index));
                Ok((a, ix))
            })
            .map_err(|e| err(&l.name, e))?
            .map_err(|e: crate::net::ifnet::IfError| err(&l.name, e))?;
        let (a_index, b_index) = indexes.ok_or_else(|| err(&l.name, "epair without its two ends"))?;
        let b_name = format!("{}b", &a_name[..a_name.len() - 1]);
        if_vmove(&mut k, v0, a_index, va).map_err(|e| err(&l.name, e))?;
        if_vmove(&mut k, v0, b_index, vb).map_err(|e| err(&l.name, e))?;
        for (end, (node, name)) in [(l.a, &a_name), (l.b, &b_name)].into_iter().enumerate() {
            let (addr, addr6) = (l.addr[end], l.addr6[end]);
            let bridge = bridges[node];
            let mtu = l.mtu;
            k.with_vnet(vnets[node], |k, v| {
                let ifp = v.builtin(IF).by_name_mut(name).ok_or("gone")?;
                if let Some(m) = mtu {
                    ifp.mtu = m;
                }
                let index = ifp.index;
                crate::net::ifnet::if_up(k, v, index, true);
                if let Some(br) = bridge {
                    bridge_addm(v, br, index).map_err(|_| "bridge")?;
                }
                if let Some((a, p)) = addr {
                    in_aifaddr(k, v, index, a, p, None, false).map_err(|_| "address")?;
                }
                if let Some((a, p)) = addr6 {
                    in6_aifaddr(k, v, index, a, p, 0).map_err(|_| "IPv6 address")?;
                }
                Ok::<(), &str>(())
            })
            .map_err(|e| err(&l.name, e))?
            .map_err(|e| err(&l.name, e))?;
            if !l.emu.0.is_empty() {
                set_pipe(&mut k, vnets[node], name, &l.emu).map_err(|e| err(&l.name, e))?;
            }
        }
        ifnames.push((a_name, b_name));
    }
    add_routes(
        &mut k,
        lab,
        &vnets,
        &lab.routes,
        |v| v.builtin(ROUTE),
        |a| crate::net::route::Inet(a).to_string(),
    )?;
    add_routes(
        &mut k,
        lab,
        &vnets,
        &lab.routes6,
        |v| &mut v.builtin(IP6).rt,
        |a| std::net::Ipv6Addr::from(a).to_string(),
    )?;
    for &vn in &vnets {
        let _ = k.with_vnet(vn, |_, v| {
            v.builtin(ROUTE).shrink_to_fit();
            v.builtin(IP6).rt.shrink_to_fit();
        });
    }
    // Node names resolve, everywhere, to their first address.
    let mut first = vec![None; lab.nodes.len()];
    for l in &lab.links {
        for (end, n) in [l.a, l.b].into_iter().enumerate() {
            if first[n].is_none() {
                first[n] = l.addr[end].map(|a| a.0);
            }
        }
    }
    for (n, a) in lab.nodes.iter().zip(first) {
        if let Some(a) = a {
            k.hosts.insert(n.name.clone(), a);
        }
    }
    for (i, n) in lab.nodes.iter().enumerate() {
        if let Some(a) = lab.node_addr6(i) {
            k.hosts6.insert(n.name.clone(), a);
        }
    }
    // Each node's FRR configuration, for its daemons to start with.
    let now = k.now();
    for (n, &jid) in lab.nodes.iter().zip(&jids) {
        if let Some(text) = &n.frr {
            crate::routing::frr_preset(&mut k, jid, now, text);
        }
    }
    Ok(Built { jids, vnets, ifnames })
}

/// Install a family's routes in their nodes' tables: each through the
/// interface its gateway is on; none for a network a node is attached to
/// (an aggregate can cover one).
fn add_routes<K: Key>(
    k: &mut Kernel,
    lab: &Lab,
    vnets: &[VnetId],
    routes: &[Route<K>],
    table: fn(&mut Vnet) -> &mut RouteTable<K>,
    show: fn(K) -> String,
) -> Result<(), String> {
    for r in routes {
        let node = &lab.nodes[r.node].name;
        k.with_vnet(vnets[r.node], |_, v| {
            let t = table(v);
            let ifindex = match t.lookup(r.via) {
                Some(e) if e.flags & RTF_GATEWAY == 0 => e.ifindex,
                _ => return Err(format!("route via {}: not on an attached network", show(r.via))),
            };
            if t.get(r.dst, r.plen).is_some_and(|e| e.flags & RTF_GATEWAY == 0) {
                return Ok(());
            }
            t.add(Rtentry {
                dst: r.dst,
                plen: r.plen,
                gateway: Gateway::Inet(r.via),
                ifindex,
                flags: RTF_STATIC | RTF_GATEWAY,
                mtu: 0,
            })
            .map_err(|e| e.to_string())
        })
        .map_err(|e| err(node, e))?
        .map_err(|e| err(node, e))?;
    }
    Ok(())
}
