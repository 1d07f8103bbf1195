//! Jails: hierarchical prisons that own or share a vnet, after
//! `kern_jail.c` and jail(8).
//!
//! prison0 (jid 0, "the host") owns vnet0. A jail created with `vnet` gets a
//! new vnet, whose constructors have all run when the jail appears; with
//! `vnet=inherit` (the default) it shares its parent's. Removing a jail
//! removes its children first and destroys every vnet it owns. Names are
//! hierarchical: seen from the host, `lab.r1` is the child `r1` of `lab`;
//! seen from inside `lab`, it is just `r1`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::rc::Rc;

use crate::kern::Kernel;
use crate::vnet::{VnetError, VnetId};

/// A jail id. Jid 0 is prison0, the host itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Jid(pub i32);

impl Jid {
    pub const HOST: Jid = Jid(0);
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// jail(8)'s "jailsys" values for `vnet`, `host` and `ip4` (only `ip4`
/// may be `disable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JailSys {
    New,
    Inherit,
    Disable,
}

impl fmt::Display for JailSys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JailSys::New => "new",
            JailSys::Inherit => "inherit",
            JailSys::Disable => "disable",
        })
    }
}

/// The most jails (FreeBSD's `JAIL_MAX`), and prison0's `children.max`.
pub const JAIL_MAX: u32 = 999_999;

/// One jail.
#[derive(Debug, Clone)]
pub struct Prison {
    pub jid: Jid,
    /// Full name, as seen from the host.
    pub name: String,
    pub parent: Jid,
    /// `host=new` with its own hostname, or `None` for `host=inherit`.
    hostname: Option<String>,
    pub vnet: VnetId,
    own_vnet: bool,
    pub persist: bool,
    pub children_max: u32,
    /// `ip4=new`: the only IPv4 addresses its processes may use, the
    /// primary first (empty: `ip4=disable`); `None` is `ip4=inherit`.
    ip4: Option<Rc<[u32]>>,
    /// Addresses jail(8) put on interfaces for it (`ip4.addr=IF|A`), taken
    /// off when it goes.
    aliases: Vec<(String, u32)>,
    /// Processes attached (jexec'd commands running in it).
    pub nprocs: u32,
    /// Direct children, and the count of all descendants (`pr_childcount`).
    children: BTreeSet<Jid>,
    ndesc: u32,
}

impl Prison {
    /// Does this jail own its vnet (`vnet=new`)?
    pub fn owns_vnet(&self) -> bool {
        self.own_vnet
    }

    /// `vnet=new` or `vnet=inherit`.
    pub fn vnet_mode(&self) -> JailSys {
        if self.own_vnet { JailSys::New } else { JailSys::Inherit }
    }

    /// `host=new` or `host=inherit`.
    pub fn host_mode(&self) -> JailSys {
        if self.hostname.is_some() {
            JailSys::New
        } else {
            JailSys::Inherit
        }
    }

    /// `ip4`: new (with addresses), disable (new without) or inherit.
    pub fn ip4_mode(&self) -> JailSys {
        match self.ip4.as_deref() {
            None => JailSys::Inherit,
            Some([]) => JailSys::Disable,
            Some(_) => JailSys::New,
        }
    }

    /// `ip4.addr`, the primary first.
    pub fn ip4_addrs(&self) -> Vec<Ipv4Addr> {
        self.ip4
            .iter()
            .flat_map(|l| l.iter().map(|&a| Ipv4Addr::from(a)))
            .collect()
    }
}

/// Parameters for `jail -c` / `jail -m`; `None` leaves a parameter alone.
#[derive(Debug, Clone, Default)]
pub struct JailParams {
    pub name: Option<String>,
    pub jid: Option<i32>,
    pub vnet: Option<JailSys>,
    pub host: Option<JailSys>,
    pub hostname: Option<String>,
    pub persist: Option<bool>,
    pub children_max: Option<u32>,
    pub ip4: Option<JailSys>,
    /// `ip4.addr`: the addresses, the primary first.
    pub ip4_addr: Option<Vec<u32>>,
}

/// Errors, worded as the kernel's `errmsg` that jail(8) prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JailError {
    #[error("jail \"{0}\" already exists")]
    NameExists(String),
    #[error("jail {0} already exists")]
    JidExists(i32),
    #[error("jail \"{0}\" not found")]
    NotFound(String),
    #[error("jail {0} not found")]
    JidNotFound(i32),
    #[error("prison limit exceeded")]
    PrisonLimit,
    #[error("jail_set: Operation not permitted")]
    Perm,
    #[error("jail_set: Invalid argument")]
    Invalid,
    #[error("vnet cannot be changed after creation")]
    VnetChange,
    #[error("ip4 cannot be changed after creation")]
    Ip4Change,
    #[error("vnet jails cannot have IP address restrictions")]
    VnetIp,
    #[error("IPv4 addresses clash")]
    Ip4Clash,
    #[error("new jail must persist or attach")]
    MustPersist,
    #[error("name cannot be numeric (unless it is the jid)")]
    NumericName,
    #[error("negative jid")]
    NegativeJid,
    #[error("no available jail IDs")]
    NoJid,
    #[error("update specified no jail")]
    NoJail,
    #[error("{0}")]
    Vnet(#[from] VnetError),
}

/// The jail table (`allprison`), ordered by jid.
pub struct Prisons {
    map: BTreeMap<Jid, Prison>,
    names: BTreeMap<String, Jid>,
    next_jid: i32,
    /// What the layers do as a jail goes (osd(9)'s PR_METHOD_REMOVE).
    on_remove: Vec<PrisonRemove>,
}

/// A layer's part in removing a jail: given the jail's vnet and the
/// addresses jail(8) put on for it (interface, address).
pub type PrisonRemove = fn(&mut Kernel, VnetId, &[(String, u32)]);

impl Prisons {
    pub(crate) fn new(vnet0: VnetId, hostname: &str) -> Prisons {
        let p0 = Prison {
            jid: Jid::HOST,
            name: "0".into(),
            parent: Jid::HOST,
            hostname: Some(hostname.into()),
            vnet: vnet0,
            own_vnet: true,
            persist: true,
            children_max: JAIL_MAX,
            ip4: None,
            aliases: Vec::new(),
            nprocs: 0,
            children: BTreeSet::new(),
            ndesc: 0,
        };
        Prisons {
            map: BTreeMap::from([(Jid::HOST, p0)]),
            names: BTreeMap::new(),
            next_jid: 1,
            on_remove: Vec::new(),
        }
    }

    fn is_descendant(&self, jid: Jid, of: Jid) -> bool {
        let mut j = jid;
        while j != Jid::HOST {
            let Some(p) = self.map.get(&j) else { return false };
            if p.parent == of {
                return true;
            }
            j = p.parent;
        }
        false
    }

    /// `jid` and its ancestors up to prison0.
    fn ancestry(&self, jid: Jid) -> Vec<Jid> {
        let mut v = vec![jid];
        let mut j = jid;
        while j != Jid::HOST {
            match self.map.get(&j) {
                Some(p) => j = p.parent,
                None => break,
            }
            v.push(j);
        }
        v
    }
}

impl Kernel {
    pub fn prison(&self, jid: Jid) -> Option<&Prison> {
        self.prisons.map.get(&jid)
    }

    /// The vnet of the jail named `key` (as seen from `cred`).
    pub fn jail_vnet(&self, cred: Jid, key: &str) -> Result<VnetId, JailError> {
        let j = self.jail_getid(cred, key)?;
        self.prison_vnet(j)
    }

    /// The vnet a jail's processes run in.
    pub fn prison_vnet(&self, jid: Jid) -> Result<VnetId, JailError> {
        self.prison(jid).map(|p| p.vnet).ok_or(JailError::JidNotFound(jid.0))
    }

    /// A jail's hostname, following `host=inherit` up the tree.
    pub fn prison_hostname(&self, jid: Jid) -> String {
        let mut j = jid;
        while let Some(p) = self.prisons.map.get(&j) {
            if let Some(h) = &p.hostname {
                return h.clone();
            }
            if j == Jid::HOST {
                break;
            }
            j = p.parent;
        }
        String::new()
    }

    /// The IPv4 addresses a jail's processes may use: its own `ip4.addr`,
    /// or its parent's for `ip4=inherit`; `None` (any) up to a jail with
    /// its own vnet, or the host.
    pub fn prison_ip4(&self, jid: Jid) -> Option<Rc<[u32]>> {
        let mut j = jid;
        while let Some(p) = self.prisons.map.get(&j) {
            if p.own_vnet {
                return None;
            }
            if let Some(l) = &p.ip4 {
                return Some(l.clone());
            }
            j = p.parent;
        }
        None
    }

    /// The `ip4` a jail under `parent` (`this`, if it exists) gets from
    /// `p`, checked as `kern_jail_set` does: addresses neither 0 nor
    /// broadcast nor repeated, within the parent's, not shared with
    /// another jail of the vnet unless both have just one.
    fn prison_ip4_check(
        &self,
        parent: Jid,
        this: Option<Jid>,
        own_vnet: bool,
        p: &JailParams,
    ) -> Result<Option<Rc<[u32]>>, JailError> {
        if p.ip4.is_none() && p.ip4_addr.is_none() {
            return Ok(None);
        }
        if own_vnet {
            return Err(JailError::VnetIp);
        }
        let list = match (p.ip4, p.ip4_addr.as_deref()) {
            (Some(JailSys::Inherit | JailSys::Disable), Some([_, ..])) => return Err(JailError::Invalid),
            (Some(JailSys::Inherit), _) => return Ok(None),
            (_, a) => a.unwrap_or_default().to_vec(),
        };
        for (i, &a) in list.iter().enumerate() {
            if a == 0 || a == u32::MAX || list[..i].contains(&a) {
                return Err(JailError::Invalid);
            }
        }
        if let Some(pl) = self.prison_ip4(parent)
            && !list.iter().all(|a| pl.contains(a))
        {
            return Err(JailError::Perm);
        }
        let vnet = self.prison_vnet(parent)?;
        let clash = self.prisons.map.values().any(|q| {
            let Some(ql) = q.ip4.as_deref() else { return false };
            Some(q.jid) != this
                && q.vnet == vnet
                && !q.own_vnet
                && !(list.len() == 1 && ql.len() == 1)
                && list.iter().any(|a| ql.contains(a))
        });
        if clash {
            return Err(JailError::Ip4Clash);
        }
        Ok(Some(list.into()))
    }

    /// A layer's part in removing jails (osd_jail_register's
    /// PR_METHOD_REMOVE): it runs for each jail that shares a vnet.
    pub fn prison_on_remove(&mut self, hook: PrisonRemove) {
        self.prisons.on_remove.push(hook);
    }

    /// jail(8) put `addr` on interface `ifname` for jail `jid`: take it off
    /// when the jail goes.
    pub fn prison_alias_added(&mut self, jid: Jid, ifname: &str, addr: u32) {
        if let Some(p) = self.prisons.map.get_mut(&jid) {
            p.aliases.push((ifname.to_string(), addr));
        }
    }

    /// Set a jail's hostname (`host.hostname`, sethostname(3)).
    pub fn prison_set_hostname(&mut self, jid: Jid, name: &str) -> Result<(), JailError> {
        let p = self.prisons.map.get_mut(&jid).ok_or(JailError::JidNotFound(jid.0))?;
        p.hostname = Some(name.to_string());
        Ok(())
    }

    /// The name of `jid` as seen from inside `cred` (relative to it).
    pub fn prison_name(&self, cred: Jid, jid: Jid) -> String {
        let Some(p) = self.prison(jid) else {
            return jid.to_string();
        };
        if cred == Jid::HOST {
            return p.name.clone();
        }
        match self.prison(cred) {
            Some(c) => p
                .name
                .strip_prefix(&format!("{}.", c.name))
                .unwrap_or(&p.name)
                .to_string(),
            None => p.name.clone(),
        }
    }

    /// The jails `cred` can see (its descendants), in jid order.
    pub fn prison_list(&self, cred: Jid) -> Vec<Jid> {
        self.prisons
            .map
            .keys()
            .copied()
            .filter(|&j| j != Jid::HOST && self.prisons.is_descendant(j, cred))
            .collect()
    }

    /// `jail_getid(3)` from inside `cred`: a jid or a (relative) name of a
    /// descendant. "0" is the host itself, and only from the host.
    pub fn jail_getid(&self, cred: Jid, key: &str) -> Result<Jid, JailError> {
        if let Ok(n) = key.parse::<i32>() {
            let j = Jid(n);
            if (j == Jid::HOST && cred == Jid::HOST) || self.prisons.is_descendant(j, cred) {
                return Ok(j);
            }
            return Err(JailError::JidNotFound(n));
        }
        let full = self.full_name(cred, key);
        match self.prisons.names.get(&full) {
            Some(&j) if self.prisons.is_descendant(j, cred) => Ok(j),
            _ => Err(JailError::NotFound(key.to_string())),
        }
    }

    fn full_name(&self, cred: Jid, rel: &str) -> String {
        match self.prison(cred) {
            Some(c) if cred != Jid::HOST => format!("{}.{rel}", c.name),
            _ => rel.to_string(),
        }
    }

    /// `jail -c`: create a jail under `cred` (or under the parent its
    /// dotted name names). `attach` says a process will run in it at once,
    /// so it need not persist.
    pub fn jail_create(&mut self, cred: Jid, p: &JailParams, attach: bool) -> Result<Jid, JailError> {
        let (parent, short) = match p.name.as_deref().and_then(|n| n.rsplit_once('.')) {
            Some((par, short)) => (
                self.jail_getid(cred, par)
                    .map_err(|_| JailError::NotFound(par.into()))?,
                short,
            ),
            None => (cred, p.name.as_deref().unwrap_or("")),
        };
        let ppr = self.prison(parent).ok_or(JailError::JidNotFound(parent.0))?;
        if cred != Jid::HOST && self.prison(cred).is_some_and(|c| c.children_max == 0) {
            return Err(JailError::Perm);
        }
        if p.children_max.is_some_and(|m| m >= ppr.children_max) {
            return Err(JailError::Perm);
        }
        // Every ancestor's limit on descendants applies.
        let ancestry = self.prisons.ancestry(parent);
        if ancestry.iter().any(|a| {
            let ap = &self.prisons.map[a];
            ap.ndesc >= ap.children_max
        }) {
            return Err(JailError::PrisonLimit);
        }
        let jid = match p.jid {
            Some(n) if n < 0 => return Err(JailError::NegativeJid),
            Some(0) | None => {
                let numeric = short.parse::<i32>().ok();
                match numeric {
                    Some(n) if p.jid.is_none() && n > 0 => Jid(n),
                    Some(_) => return Err(JailError::NumericName),
                    None => self.alloc_jid()?,
                }
            }
            Some(n) => {
                if short.parse::<i32>().is_ok_and(|m| m != n) {
                    return Err(JailError::NumericName);
                }
                Jid(n)
            }
        };
        if self.prisons.map.contains_key(&jid) {
            return Err(JailError::JidExists(jid.0));
        }
        let short = if short.is_empty() {
            jid.to_string()
        } else {
            short.to_string()
        };
        let full = if parent == Jid::HOST {
            short
        } else {
            format!("{}.{short}", self.prisons.map[&parent].name)
        };
        if self.prisons.names.contains_key(&full) {
            return Err(JailError::NameExists(self.name_rel(cred, &full)));
        }
        if !p.persist.unwrap_or(false) && !attach {
            return Err(JailError::MustPersist);
        }
        let own_vnet = p.vnet == Some(JailSys::New);
        let ip4 = self.prison_ip4_check(parent, None, own_vnet, p)?;
        let hostname = match (p.host, &p.hostname) {
            (Some(JailSys::Inherit), _) => None,
            (_, Some(h)) => Some(h.clone()),
            // host=new without a name starts with a copy of the parent's.
            _ => Some(self.prison_hostname(parent)),
        };
        let vnet = if own_vnet {
            self.vnet_create(Some(&full))?
        } else {
            self.prisons.map[&parent].vnet
        };
        self.prisons.names.insert(full.clone(), jid);
        self.prisons.map.insert(
            jid,
            Prison {
                jid,
                name: full,
                parent,
                hostname,
                vnet,
                own_vnet,
                persist: p.persist.unwrap_or(false),
                children_max: p.children_max.unwrap_or(0),
                ip4,
                aliases: Vec::new(),
                nprocs: 0,
                children: BTreeSet::new(),
                ndesc: 0,
            },
        );
        for a in &ancestry {
            if let Some(ap) = self.prisons.map.get_mut(a) {
                ap.ndesc += 1;
            }
        }
        if let Some(pp) = self.prisons.map.get_mut(&parent) {
            pp.children.insert(jid);
        }
        if jid.0 >= self.prisons.next_jid {
            self.prisons.next_jid = jid.0 + 1;
        }
        Ok(jid)
    }

    fn name_rel(&self, cred: Jid, full: &str) -> String {
        match self.prison(cred) {
            Some(c) if cred != Jid::HOST => full.strip_prefix(&format!("{}.", c.name)).unwrap_or(full).to_string(),
            _ => full.to_string(),
        }
    }

    fn alloc_jid(&mut self) -> Result<Jid, JailError> {
        for _ in 0..JAIL_MAX {
            if self.prisons.next_jid as u32 > JAIL_MAX {
                self.prisons.next_jid = 1;
            }
            let j = Jid(self.prisons.next_jid);
            self.prisons.next_jid += 1;
            if !self.prisons.map.contains_key(&j) {
                return Ok(j);
            }
        }
        Err(JailError::NoJid)
    }

    /// `jail -m`: change parameters of a jail.
    pub fn jail_modify(&mut self, jid: Jid, p: &JailParams) -> Result<(), JailError> {
        let pr = self.prison(jid).ok_or(JailError::JidNotFound(jid.0))?;
        if p.vnet.is_some_and(|v| v != pr.vnet_mode()) {
            return Err(JailError::VnetChange);
        }
        if p.ip4.is_some() {
            return Err(JailError::Ip4Change);
        }
        let parent_max = self.prison(pr.parent).map_or(JAIL_MAX, |pp| pp.children_max);
        if p.children_max.is_some_and(|m| m >= parent_max) {
            return Err(JailError::Perm);
        }
        let (parent, own) = (pr.parent, pr.own_vnet);
        let ip4 = match p.ip4_addr {
            Some(_) => Some(self.prison_ip4_check(parent, Some(jid), own, p)?),
            None => None,
        };
        let pr = self.prisons.map.get_mut(&jid).ok_or(JailError::JidNotFound(jid.0))?;
        if let Some(ip4) = ip4 {
            pr.ip4 = ip4;
        }
        if let Some(m) = p.children_max {
            pr.children_max = m;
        }
        match (p.host, &p.hostname) {
            (Some(JailSys::Inherit), _) => pr.hostname = None,
            (_, Some(h)) => pr.hostname = Some(h.clone()),
            _ => {}
        }
        if let Some(persist) = p.persist {
            pr.persist = persist;
            if !persist && pr.nprocs == 0 {
                return self.jail_remove(jid);
            }
        }
        Ok(())
    }

    /// `jail -r`: remove a jail and all its descendants (deepest first),
    /// destroying every vnet they own.
    pub fn jail_remove(&mut self, jid: Jid) -> Result<(), JailError> {
        if jid == Jid::HOST {
            return Err(JailError::Perm);
        }
        let children = match self.prisons.map.get(&jid) {
            Some(p) => p.children.clone(),
            None => return Err(JailError::JidNotFound(jid.0)),
        };
        for c in children {
            self.jail_remove(c)?;
        }
        let ancestry = self.prisons.ancestry(jid);
        if let Some(p) = self.prisons.map.remove(&jid) {
            self.prisons.names.remove(&p.name);
            for a in &ancestry[1..] {
                if let Some(ap) = self.prisons.map.get_mut(a) {
                    ap.ndesc -= 1;
                }
            }
            if let Some(pp) = self.prisons.map.get_mut(&p.parent) {
                pp.children.remove(&jid);
            }
            if p.own_vnet {
                self.vnet_destroy(p.vnet)?;
            } else {
                for hook in self.prisons.on_remove.clone() {
                    hook(self, p.vnet, &p.aliases);
                }
            }
        }
        Ok(())
    }

    /// A process starts running in `jid` (jexec).
    pub fn prison_attach(&mut self, jid: Jid) {
        if let Some(p) = self.prisons.map.get_mut(&jid) {
            p.nprocs += 1;
        }
    }

    /// A process in `jid` exits; a jail without `persist` goes with its
    /// last process.
    pub fn prison_detach(&mut self, jid: Jid) {
        if let Some(p) = self.prisons.map.get_mut(&jid) {
            p.nprocs = p.nprocs.saturating_sub(1);
            if p.nprocs == 0 && !p.persist && jid != Jid::HOST {
                let _ = self.jail_remove(jid);
            }
        }
    }
}
