//! Routing daemons in FRR's manner (docs/ROUTING.md): processes in a
//! jail that use only sockets and the routing socket, configured in FRR's
//! language and shown by `vtysh` in FRR's layout.
//!
//! The daemons of one jail share an [`Frr`]: the running configuration
//! (one integrated frr.conf), the RIB that zebra would keep, and each
//! protocol's state for `show`. A jail's `Frr` is found under the
//! kernel's `vty` names, as vtysh finds FRR's daemons by their vty
//! sockets; it lives while a daemon runs there.

pub mod bgpd;
pub mod conf;
pub mod daemon;
pub mod ospfd;
pub mod policy;
pub mod rib;
pub mod ripd;
pub mod ripngd;
pub mod staticd;
pub mod vtysh;

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Waker;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::jail::Jid;
use crate::kern::proc::Proc;

/// What the daemons of a jail share.
pub struct Frr {
    pub conf: conf::FrrConf,
    /// Counts changes of `conf`: a daemon that saw another reads it again.
    pub generation: u64,
    pub rib: rib::Rib,
    /// The IPv6 RIB.
    pub rib6: rib::Rib<u128>,
    /// ripd's state, while it runs.
    pub rip: Option<ripd::Rip>,
    /// ripngd's.
    pub ripng: Option<ripd::Rip<u128>>,
    /// ospfd's state, while it runs.
    pub ospf: Option<ospfd::Ospf>,
    /// bgpd's state, while it runs.
    pub bgp: Option<bgpd::Bgp>,
    /// Whether staticd runs (its routes are the configuration's).
    pub staticd: bool,
    /// The RIBs' changes the waiting daemons were last told of.
    rib_told: u64,
    /// Daemons to wake when the configuration or the RIBs change.
    wakers: Vec<Waker>,
}

impl Frr {
    /// Change the running configuration and tell the daemons.
    pub fn reconfigured(&mut self) {
        self.generation += 1;
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    /// How many times the RIBs' routes changed.
    pub fn rib_changes(&self) -> u64 {
        self.rib.changes().wrapping_add(self.rib6.changes())
    }

    /// A daemon that changed the RIBs wakes the others, which may
    /// redistribute its routes or resolve through them; the count now.
    pub fn rib_announce(&mut self) -> u64 {
        let g = self.rib_changes();
        if g != self.rib_told {
            self.rib_told = g;
            for w in self.wakers.drain(..) {
                w.wake();
            }
        }
        g
    }

    /// Wake `w` at the next change.
    pub fn watch(&mut self, w: &Waker) {
        if !self.wakers.iter().any(|x| x.will_wake(w)) {
            self.wakers.push(w.clone());
        }
    }

    /// Is any daemon running?
    pub fn running(&self) -> bool {
        self.staticd || self.rip.is_some() || self.ripng.is_some() || self.ospf.is_some() || self.bgp.is_some()
    }
}

/// The name it is kept under.
const VTY: &str = "frr";

/// The jail's `Frr`, if a daemon runs there.
pub fn frr_of(p: &Proc) -> Option<Rc<RefCell<Frr>>> {
    let any = p.kernel().vty.get(&(p.jid, VTY)).cloned()?;
    any.downcast::<RefCell<Frr>>().ok()
}

/// The jail's `Frr`, made for a daemon starting there.
pub fn frr_open(p: &Proc, now: Time) -> Rc<RefCell<Frr>> {
    if let Some(f) = frr_of(p) {
        return f;
    }
    frr_make(&mut p.kernel(), p.jid, now)
}

fn frr_make(k: &mut Kernel, jid: Jid, now: Time) -> Rc<RefCell<Frr>> {
    let f = Rc::new(RefCell::new(Frr {
        conf: conf::FrrConf::default(),
        generation: 0,
        rib: rib::Rib::new(now),
        rib6: rib::Rib::new(now),
        rip: None,
        ripng: None,
        ospf: None,
        bgp: None,
        staticd: false,
        rib_told: 0,
        wakers: Vec::new(),
    }));
    k.vty.insert((jid, VTY), f.clone());
    f
}

/// Give jail `jid` the configuration `text` (frr.conf's language) for
/// the daemons that start there without one of their own (a lab node's
/// `frr`); the lines it refused.
pub fn frr_preset(k: &mut Kernel, jid: Jid, now: Time, text: &str) -> Vec<String> {
    let (c, errors) = conf::FrrConf::parse(text);
    frr_make(k, jid, now).borrow_mut().conf = c;
    errors
}

/// A daemon is gone: with it the last, the jail's `Frr` goes too.
pub fn frr_close(p: &Proc, f: &Rc<RefCell<Frr>>) {
    if !f.borrow().running()
        && let Some(mut k) = p.try_kernel()
    {
        k.vty.remove(&(p.jid, VTY));
    }
}

/// An age as zebra prints it (`zebra_route_uptime`): `HH:MM:SS` within a
/// day, then `DdHHhMMm`, then `WWwDdHHh`.
pub fn uptime(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (w, day, h, m, sec) = (s / 604_800, s / 86_400 % 7, s / 3600 % 24, s / 60 % 60, s % 60);
    if s < 86_400 {
        format!("{:02}:{m:02}:{sec:02}", s / 3600)
    } else if s < 604_800 {
        format!("{}d{h:02}h{m:02}m", s / 86_400)
    } else {
        format!("{w:02}w{day}d{h:02}h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages_print_as_zebra_prints_them() {
        assert_eq!(uptime(Duration::from_secs(86)), "00:01:26");
        assert_eq!(uptime(Duration::from_secs(86_400 + 7_260)), "1d02h01m");
        assert_eq!(uptime(Duration::from_secs(3 * 604_800 + 86_400 + 3600)), "03w1d01h");
    }
}
