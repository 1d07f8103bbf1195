//! vlan(4): IEEE 802.1Q virtual LANs. A vlan interface sends through its
//! parent Ethernet interface with a tag (TPID 0x8100, priority and VLAN
//! id) after the addresses; a tagged frame arriving on the parent goes,
//! untagged, to the vlan of its id.

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::{IF, IfKind, NoBufs, if_input, if_transmit};
use crate::vnet::Vnet;

/// The 802.1Q tag's type.
pub use crate::wire::ethernet::ETHERTYPE_VLAN;
use crate::wire::ethernet::{ETHER_HDR_LEN, vlan};
/// The bytes a tag adds.
pub const ETHER_VLAN_ENCAP_LEN: usize = vlan::ENCAP_LEN;

/// A vlan's configuration (`ifconfig vlanN vlan ID vlandev IF [vlanpcp P]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vlan {
    /// The parent's index and generation, once configured.
    pub parent: Option<(u32, u32)>,
    pub vid: u16,
    pub pcp: u8,
}

/// `vlan_transmit`: tag the frame and send it out of the parent.
pub fn vlan_output(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf) -> Result<(), NoBufs> {
    let ifs = v.builtin(IF);
    let Some(ifp) = ifs.get(index) else { return Ok(()) };
    let IfKind::Vlan(vl) = &ifp.kind else { return Ok(()) };
    let tci = (u16::from(vl.pcp) << 13) | vl.vid;
    let parent = vl
        .parent
        .filter(|&(p, g)| ifs.get(p).is_some_and(|i| i.generation == g));
    let Some((parent, _)) = parent else {
        if let Some(ifp) = ifs.get_mut(index) {
            ifp.counters.oerrors += 1;
        }
        return Ok(());
    };
    if m.len() < ETHER_HDR_LEN {
        return Ok(());
    }
    m.prepend(ETHER_VLAN_ENCAP_LEN);
    let h = m.data_mut();
    h.copy_within(ETHER_VLAN_ENCAP_LEN..ETHER_VLAN_ENCAP_LEN + 12, 0);
    vlan::write_tag(h, tci);
    if_transmit(k, v, parent, m)
}

/// `vlan_input`: a tagged frame that arrived on `parent`, to the vlan of
/// its id (untagged), or counted as for no protocol.
pub fn vlan_input(k: &mut Kernel, v: &mut Vnet, parent: u32, mut m: Mbuf) {
    let Some(vid) = vlan::vid(m.data()).filter(|_| m.len() >= ETHER_HDR_LEN + vlan::ENCAP_LEN) else {
        if let Some(p) = v.builtin(IF).get_mut(parent) {
            p.counters.ierrors += 1;
        }
        return;
    };
    let ifs = v.builtin(IF);
    let to = ifs
        .list
        .iter()
        .find(|i| matches!(&i.kind, IfKind::Vlan(vl) if vl.vid == vid && vl.parent.is_some_and(|(p, _)| p == parent)))
        .map(|i| i.index);
    let Some(to) = to else {
        if let Some(p) = ifs.get_mut(parent) {
            p.counters.noproto += 1;
        }
        return;
    };
    let h = m.data_mut();
    h.copy_within(0..12, ETHER_VLAN_ENCAP_LEN);
    m.adj(ETHER_VLAN_ENCAP_LEN);
    if_input(k, v, to, m);
}
