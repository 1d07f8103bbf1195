//! Interface cloners (after `if_clone.c`): `ifconfig epair create` makes a
//! cross-over pair epairNa/epairNb (epair(4)), `ifconfig bridge create` a
//! learning bridge (if_bridge(4)), `ifconfig tap create` a door to a host
//! TAP device; `lo`, `vlan` (and `IF.VID`), `gif` and `gre` make
//! loopbacks, 802.1Q vlans and tunnels, numbered per vnet.

use crate::kern::Kernel;
use crate::kern::clock::ClockKind;
use crate::net::bridge::Bridge;
use crate::net::if_tunnel::{Encap, Tunnel};
use crate::net::if_vlan::Vlan;
use crate::net::ifnet::{
    ETHERMTU, IF, IFF_BROADCAST, IFF_LOOPBACK, IFF_LOWER_UP, IFF_MULTICAST, IFF_POINTOPOINT, IFF_RUNNING, IFF_SIMPLEX,
    IfError, IfKind, LO_BAUDRATE, LOMTU, if_attach, ifg,
};
use crate::net::tap::Tap;
use crate::vnet::Vnet;

/// gif(4)'s MTU.
pub const GIF_MTU: u32 = 1280;
/// gre(4)'s MTU (1500 less the outer IPv4 and GRE headers).
pub const GRE_MTU: u32 = 1476;

/// A new, unconfigured vlan interface.
fn vlan_attach(k: &mut Kernel, v: &mut Vnet, name: String) -> u32 {
    let index = if_attach(
        k,
        v,
        name,
        IfKind::Vlan(Vlan::default()),
        IFF_BROADCAST | IFF_MULTICAST,
        ETHERMTU,
    );
    if let Some(i) = v.builtin(IF).get_mut(index) {
        i.lladdr = [0; 6];
    }
    index
}

/// `ifconfig vlanN vlan VID vlandev PARENT [vlanpcp P]` (vlan_config): the
/// parent's address and MTU (epair has VLAN_MTU: no room to give up).
pub fn vlan_config(v: &mut Vnet, index: u32, parent: &str, vid: u16, pcp: u8) -> Result<(), String> {
    let ifs = v.builtin(IF);
    let par = ifs
        .by_name(parent)
        .ok_or(format!("SIOCIFCREATE2 (vlan): Device not configured ({parent})"))?;
    if !par.is_ethernet() || matches!(par.kind, IfKind::Tap(_)) && par.flags & IFF_BROADCAST == 0 {
        return Err("SIOCSETVLAN: Protocol not supported".into());
    }
    let taken = ifs.list.iter().any(|i| {
        i.index != index
            && matches!(&i.kind, IfKind::Vlan(vl) if vl.vid == vid && vl.parent.is_some_and(|(p, _)| p == par.index))
    });
    if taken {
        return Err("SIOCSETVLAN: File exists".into());
    }
    let (pi, pg, mac, simplex) = (par.index, par.generation, par.lladdr, par.flags & IFF_SIMPLEX);
    let mtu = if matches!(par.kind, IfKind::Epair { .. }) {
        par.mtu
    } else {
        par.mtu.saturating_sub(crate::net::if_vlan::ETHER_VLAN_ENCAP_LEN as u32)
    };
    let ifp = ifs.get_mut(index).ok_or("gone")?;
    ifp.kind = IfKind::Vlan(Vlan {
        parent: Some((pi, pg)),
        vid,
        pcp,
    });
    ifp.lladdr = mac;
    ifp.mtu = mtu;
    ifp.flags |= simplex | IFF_RUNNING | IFF_LOWER_UP;
    Ok(())
}

/// epair(4)'s media, 10Gbase-T.
pub const EPAIR_BAUDRATE: u64 = 10_000_000_000;

/// Split "epair12" into ("epair", Some(12)); the family must be known.
fn parse_clone_name(name: &str) -> Option<(&'static str, Option<u32>)> {
    for fam in ["epair", "bridge", "tap", "lo", "vlan", "gif", "gre"] {
        if let Some(rest) = name.strip_prefix(fam) {
            if rest.is_empty() {
                return Some((fam, None));
            }
            return rest.parse().ok().map(|u| (fam, Some(u)));
        }
    }
    None
}

/// `ifconfig NAME create`: returns the new interface's name (for an epair,
/// its `a` end). `tapdev` names the host device of a TAP interface.
pub fn if_clone_create(k: &mut Kernel, v: &mut Vnet, name: &str, tapdev: Option<&str>) -> Result<String, IfError> {
    // `epair0a.10`: a vlan of that id on that parent, keeping its name.
    if let Some((parent, vid)) = name.rsplit_once('.') {
        let vid: u16 = vid
            .parse()
            .ok()
            .filter(|&n| n > 0 && n < 0xfff)
            .ok_or(IfError::Other("invalid vlan tag".into()))?;
        let index = vlan_attach(k, v, name.to_string());
        if let Err(e) = vlan_config(v, index, parent, vid, 0) {
            let _ = crate::net::ifnet::if_destroy(k, v, index);
            return Err(IfError::Other(e));
        }
        return Ok(name.to_string());
    }
    let (fam, want) = parse_clone_name(name).ok_or(IfError::BadCloner)?;
    // Loopbacks, vlans and tunnels are numbered in their vnet.
    if matches!(fam, "lo" | "vlan" | "gif" | "gre") {
        let unit = match want {
            Some(u) => u,
            None => v.builtin(IF).unit_free(fam).max(u32::from(fam == "lo")),
        };
        let n = format!("{fam}{unit}");
        if v.builtin(IF).by_name(&n).is_some() {
            return Err(IfError::Other(format!("interface {n} already exists")));
        }
        match fam {
            "lo" => {
                let index = if_attach(k, v, n.clone(), IfKind::Loop, IFF_LOOPBACK | IFF_MULTICAST, LOMTU);
                if let Some(i) = v.builtin(IF).get_mut(index) {
                    i.baudrate = LO_BAUDRATE;
                }
            }
            "vlan" => {
                vlan_attach(k, v, n.clone());
            }
            _ => {
                let (encap, mtu) = if fam == "gif" {
                    (Encap::Gif, GIF_MTU)
                } else {
                    (Encap::Gre, GRE_MTU)
                };
                let index = if_attach(
                    k,
                    v,
                    n.clone(),
                    IfKind::Tunnel(Tunnel::new(encap)),
                    IFF_POINTOPOINT | IFF_MULTICAST,
                    mtu,
                );
                if let Some(i) = v.builtin(IF).get_mut(index) {
                    i.lladdr = [0; 6];
                }
            }
        }
        return Ok(n);
    }
    if fam == "tap" && k.clock_kind() != ClockKind::Real {
        return Err(IfError::Other(
            "tap interfaces need the real clock (--clock real)".into(),
        ));
    }
    let unit = ifg(k).unit_alloc(fam, want).ok_or(IfError::UnitInUse)?;
    let flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST | IFF_RUNNING;
    match fam {
        "epair" => {
            let a = if_attach(
                k,
                v,
                format!("epair{unit}a"),
                IfKind::Epair { peer: 0 },
                flags | IFF_LOWER_UP,
                ETHERMTU,
            );
            let b = if_attach(
                k,
                v,
                format!("epair{unit}b"),
                IfKind::Epair { peer: a },
                flags | IFF_LOWER_UP,
                ETHERMTU,
            );
            // epair(4)'s addresses: one base, ending in 0a and 0b.
            let base = ifg(k).mac_alloc();
            let ifs = v.builtin(IF);
            if let Some(ia) = ifs.get_mut(a) {
                ia.kind = IfKind::Epair { peer: b };
                ia.lladdr = [0x02, base[2], base[3], base[4], base[5], 0x0a];
                ia.baudrate = EPAIR_BAUDRATE;
            }
            if let Some(ib) = ifs.get_mut(b) {
                ib.lladdr = [0x02, base[2], base[3], base[4], base[5], 0x0b];
                ib.baudrate = EPAIR_BAUDRATE;
            }
            Ok(format!("epair{unit}a"))
        }
        "bridge" => {
            let n = format!("bridge{unit}");
            if_attach(
                k,
                v,
                n.clone(),
                IfKind::Bridge(Box::new(Bridge::new())),
                flags,
                ETHERMTU,
            );
            Ok(n)
        }
        _ => {
            let n = format!("tap{unit}");
            let hostdev = tapdev.map(str::to_string).unwrap_or_else(|| format!("vimage{unit}"));
            let tap = match Tap::open(&hostdev, k.ext_sender()) {
                Ok(t) => t,
                Err(e) => {
                    ifg(k).unit_free(fam, unit);
                    return Err(IfError::Other(format!("tap {hostdev}: {e}")));
                }
            };
            let index = if_attach(
                k,
                v,
                n.clone(),
                IfKind::Tap(Box::new(tap)),
                flags | IFF_LOWER_UP,
                ETHERMTU,
            );
            let generation = ifg(k).gen_of(index).unwrap_or(0);
            if let Some(IfKind::Tap(t)) = v.builtin(IF).get_mut(index).map(|i| &mut i.kind) {
                t.bind(index, generation);
            }
            Ok(n)
        }
    }
}
