//! Interface cloners (after `if_clone.c`): `ifconfig epair create` makes a
//! cross-over pair epairNa/epairNb (epair(4)), `ifconfig bridge create` a
//! learning bridge (if_bridge(4)), `ifconfig tap create` a door to a host
//! TAP device.

use crate::kern::Kernel;
use crate::kern::clock::ClockKind;
use crate::net::bridge::Bridge;
use crate::net::ifnet::{
    ETHERMTU, IF, IFF_BROADCAST, IFF_LOWER_UP, IFF_MULTICAST, IFF_RUNNING, IFF_SIMPLEX, IfError, IfKind, if_attach,
};
use crate::net::tap::Tap;
use crate::vnet::Vnet;

/// epair(4)'s media, 10Gbase-T.
pub const EPAIR_BAUDRATE: u64 = 10_000_000_000;

/// Split "epair12" into ("epair", Some(12)); the family must be known.
fn parse_clone_name(name: &str) -> Option<(&'static str, Option<u32>)> {
    for fam in ["epair", "bridge", "tap"] {
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
    let (fam, want) = parse_clone_name(name).ok_or(IfError::BadCloner)?;
    if fam == "tap" && k.clock_kind() != ClockKind::Real {
        return Err(IfError::Other(
            "tap interfaces need the real clock (--clock real)".into(),
        ));
    }
    let unit = k.net.unit_alloc(fam, want).ok_or(IfError::UnitInUse)?;
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
            let base = k.net.mac_alloc();
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
                    k.net.unit_free(fam, unit);
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
            let generation = k.net.gen_of(index).unwrap_or(0);
            if let Some(IfKind::Tap(t)) = v.builtin(IF).get_mut(index).map(|i| &mut i.kind) {
                t.bind(index, generation);
            }
            Ok(n)
        }
    }
}
