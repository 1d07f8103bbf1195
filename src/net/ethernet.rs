//! Ethernet II framing: input validation and demultiplexing, output with
//! the next hop's address (after `if_ethersubr.c`).

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::{IF, IFF_PROMISC, NoBufs, if_transmit};
use crate::vnet::Vnet;

pub use crate::wire::ethernet::{
    BROADCAST, ETHER_ADDR_LEN, ETHER_HDR_LEN, ETHER_MIN_LEN, ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, is_multicast,
};
use crate::wire::ethernet::{ETHERTYPE_VLAN, Frame};

/// `aa:bb:cc:dd:ee:ff`.
pub fn ether_ntoa(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Parse `aa:bb:cc:dd:ee:ff` (one or two hex digits per byte).
pub fn ether_aton(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Counters of frames Ethernet dropped, per interface, live in the
/// interface's counters: `iqdrops` for frames not for us, `ierrors` for
/// runts, `noproto` for unknown types.
pub fn ether_input(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf) {
    let Some(ifp) = v.builtin(IF).get_mut(index) else {
        return;
    };
    let Some(f) = Frame::new_checked(m.data()) else {
        ifp.counters.ierrors += 1;
        return;
    };
    let dst = f.dst_addr();
    let bcast = dst == BROADCAST;
    let mcast = !bcast && is_multicast(&dst);
    if !bcast && !mcast && dst != ifp.lladdr && ifp.flags & IFF_PROMISC == 0 {
        ifp.counters.iqdrops += 1;
        return;
    }
    if bcast || mcast {
        ifp.counters.imcasts += 1;
    }
    // Groups are IP's (RFC 1112 §6.4: 01:00:5e and the low 23 bits;
    // RFC 2464 §7: 33:33 and the low 32); which ones is IP's to tell, as
    // a NIC's imperfect filter leaves it to.
    let ip4 = dst[..3] == [0x01, 0x00, 0x5e] && f.ethertype() == ETHERTYPE_IP;
    let ip6 = dst[..2] == [0x33, 0x33] && f.ethertype() == ETHERTYPE_IPV6;
    if mcast && !ip4 && !ip6 {
        return;
    }
    let etype = f.ethertype();
    if etype == ETHERTYPE_VLAN {
        return crate::net::if_vlan::vlan_input(k, v, index, m);
    }
    m.adj(ETHER_HDR_LEN);
    crate::net::ifnet::if_proto_input(k, v, index, etype, m, bcast);
}

/// Put an Ethernet header in front of `m` and send it out of `index`.
pub fn ether_output_frame(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    dst: [u8; 6],
    etype: u16,
    mut m: Mbuf,
) -> Result<(), NoBufs> {
    let Some(ifp) = v.builtin(IF).get(index) else {
        return Ok(());
    };
    let src = ifp.lladdr;
    let mut h = Frame::new_unchecked(m.prepend(ETHER_HDR_LEN));
    h.set_dst_addr(dst);
    h.set_src_addr(src);
    h.set_ethertype(etype);
    if m.len() < ETHER_MIN_LEN {
        let pad = ETHER_MIN_LEN - m.len();
        m.append(&[0u8; ETHER_MIN_LEN][..pad]);
    }
    if is_multicast(&dst)
        && let Some(ifp) = v.builtin(IF).get_mut(index)
    {
        ifp.counters.omcasts += 1;
    }
    if_transmit(k, v, index, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text() {
        let m = [0x02, 0, 0xab, 1, 2, 0xff];
        assert_eq!(ether_ntoa(&m), "02:00:ab:01:02:ff");
        assert_eq!(ether_aton("02:0:ab:1:2:ff"), Some(m));
        assert_eq!(ether_aton("02:00:ab:01:02"), None);
        assert_eq!(ether_aton("02:00:ab:01:02:ff:00"), None);
        assert_eq!(ether_aton("zz:00:ab:01:02:ff"), None);
        assert!(is_multicast(&BROADCAST));
        assert!(!is_multicast(&m));
    }
}
