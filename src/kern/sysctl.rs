//! The sysctl tree: typed, described nodes, global or per vnet
//! (`CTLFLAG_VNET`), after sysctl(9).
//!
//! A per-vnet node reads and writes the copy of the *current* vnet
//! ([`Kernel::curvnet_set`]). Writes are checked against the caller's jail:
//! the host may write anything writable; a jail that owns its vnet may write
//! that vnet's nodes but no global one; a jail without its own vnet may
//! write nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::kern::Kernel;
use crate::kern::jail::Jid;
use crate::vnet::{Vnet, VnetError, VnetKey};

/// A node's type, with FreeBSD's `CTLTYPE_*` name (used in messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctype {
    Int,
    Uint,
    Long,
    U64,
    String,
    /// A read-only statistics structure (`CTLTYPE_OPAQUE`, format `S,...`).
    Struct,
}

impl Ctype {
    /// FreeBSD sysctl(8)'s `ctl_typename`.
    pub fn name(self) -> &'static str {
        match self {
            Ctype::Int => "integer",
            Ctype::Uint => "unsigned integer",
            Ctype::Long => "long integer",
            Ctype::U64 => "uint64_t",
            Ctype::String => "string",
            Ctype::Struct => "opaque",
        }
    }

    /// The `CTLTYPE_*` number.
    pub fn number(self) -> u32 {
        match self {
            Ctype::Int => 2,
            Ctype::String => 3,
            Ctype::Struct => 5,
            Ctype::Uint => 6,
            Ctype::Long => 7,
            Ctype::U64 => 9,
        }
    }

    fn bounds(self) -> (i128, i128) {
        match self {
            Ctype::Int => (i32::MIN.into(), i32::MAX.into()),
            Ctype::Uint => (0, u32::MAX.into()),
            Ctype::Long => (i64::MIN.into(), i64::MAX.into()),
            Ctype::U64 => (0, u64::MAX.into()),
            Ctype::String | Ctype::Struct => (0, 0),
        }
    }
}

/// A sysctl value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i128),
    Str(String),
    /// Named counters of a statistics structure.
    Struct(Vec<(&'static str, u64)>),
}

impl fmt::Display for Value {
    /// sysctl(8)'s rendering: numbers in decimal, structures as
    /// `{ name = value, ... }` like its pretty printers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::Struct(fields) => {
                f.write_str("{ ")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n} = {v}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

/// A Rust type a sysctl can read and write in place.
pub trait Scalar: 'static {
    const CTYPE: Ctype;
    fn get(&self) -> Value;
    /// Store `v`, already parsed and checked against the type's bounds.
    fn set(&mut self, v: &Value);
}

macro_rules! int_scalar {
    ($($t:ty => $c:expr),*) => {$(
        impl Scalar for $t {
            const CTYPE: Ctype = $c;
            fn get(&self) -> Value {
                Value::Int(*self as i128)
            }
            fn set(&mut self, v: &Value) {
                if let Value::Int(i) = v {
                    *self = *i as $t;
                }
            }
        }
    )*};
}
int_scalar!(i32 => Ctype::Int, u32 => Ctype::Uint, i64 => Ctype::Long, u64 => Ctype::U64);

/// A flag is an `int` that reads 0 or 1, as most of FreeBSD's are.
impl Scalar for bool {
    const CTYPE: Ctype = Ctype::Int;
    fn get(&self) -> Value {
        Value::Int(*self as i128)
    }
    /// Any non-zero value is true.
    fn set(&mut self, v: &Value) {
        if let Value::Int(i) = v {
            *self = *i != 0;
        }
    }
}

impl Scalar for String {
    const CTYPE: Ctype = Ctype::String;
    fn get(&self) -> Value {
        Value::Str(self.clone())
    }
    fn set(&mut self, v: &Value) {
        if let Value::Str(s) = v {
            self.clone_from(s);
        }
    }
}

/// Why a sysctl request failed; `Display` gives sysctl(8)'s message after
/// its `sysctl: ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysctlError {
    #[error("unknown oid '{0}'")]
    UnknownOid(String),
    #[error("oid '{0}' isn't a leaf node")]
    NotLeaf(String),
    #[error("oid '{0}' is read only")]
    ReadOnly(String),
    #[error("oid '{0}' is type {1}, cannot set that")]
    CannotSet(String, u32),
    #[error("empty numeric value")]
    Empty,
    #[error("invalid {0} '{1}'")]
    Invalid(&'static str, String),
    /// EINVAL from the handler (value out of the node's range).
    #[error("Invalid argument")]
    Range,
    /// EPERM: the caller's jail may not write this node.
    #[error("Operation not permitted")]
    Perm,
    /// ENOENT from the handler (no such thing to set it to).
    #[error("No such file or directory")]
    NoEnt,
    #[error("{0}")]
    Vnet(#[from] VnetError),
}

type VnetHandler = dyn Fn(&mut Vnet, Option<&Value>) -> Result<Value, SysctlError>;
type GlobalHandler = dyn Fn(&mut Kernel, Jid, Option<&Value>) -> Result<Value, SysctlError>;

/// How a node reaches its value: the old value is returned, and a new one,
/// if given, is stored (the oldp/newp of a sysctl handler).
#[derive(Clone)]
pub enum Handler {
    Vnet(Rc<VnetHandler>),
    Global(Rc<GlobalHandler>),
}

/// One leaf of the tree.
#[derive(Clone)]
pub struct Oid {
    pub name: String,
    pub descr: String,
    pub ctype: Ctype,
    pub writable: bool,
    range: Option<(i128, i128)>,
    handler: Handler,
    /// The module slot that registered it (removed with the module).
    pub(crate) owner: Option<usize>,
}

impl Oid {
    /// A per-vnet node (`CTLFLAG_VNET | CTLFLAG_RW`) on a field of a
    /// module's state.
    pub fn vnet<T: 'static, V: Scalar>(key: VnetKey<T>, name: &str, descr: &str, field: fn(&mut T) -> &mut V) -> Oid {
        let h = move |v: &mut Vnet, new: Option<&Value>| {
            let st = v.get_mut(key).ok_or(VnetError::NoSuchModule)?;
            let f = field(st);
            let old = f.get();
            if let Some(n) = new {
                f.set(n);
            }
            Ok(old)
        };
        Oid::new(name, descr, V::CTYPE, true, Handler::Vnet(Rc::new(h)))
    }

    /// A read-write per-vnet string that must satisfy `valid` (ENOENT
    /// otherwise, as for an unknown congestion control algorithm).
    pub fn vnet_string<T: 'static>(
        key: VnetKey<T>,
        name: &str,
        descr: &str,
        field: fn(&mut T) -> &mut String,
        valid: fn(&str) -> bool,
    ) -> Oid {
        let h = move |v: &mut Vnet, new: Option<&Value>| {
            let st = v.get_mut(key).ok_or(VnetError::NoSuchModule)?;
            let f = field(st);
            let old = Value::Str(f.clone());
            if let Some(Value::Str(n)) = new {
                if !valid(n) {
                    return Err(SysctlError::NoEnt);
                }
                f.clone_from(n);
            }
            Ok(old)
        };
        Oid::new(name, descr, Ctype::String, true, Handler::Vnet(Rc::new(h)))
    }

    /// A read-only per-vnet number computed from a module's state (a
    /// count, as `net.inet.tcp.hostcache.count`).
    pub fn vnet_count<T: 'static>(key: VnetKey<T>, name: &str, descr: &str, read: fn(&T) -> u64) -> Oid {
        let h = move |v: &mut Vnet, _: Option<&Value>| {
            let st = v.get(key).ok_or(VnetError::NoSuchModule)?;
            Ok(Value::Int(read(st).into()))
        };
        Oid::new(name, descr, Ctype::Uint, false, Handler::Vnet(Rc::new(h)))
    }

    /// A read-only per-vnet statistics structure.
    pub fn vnet_stats<T: 'static>(
        key: VnetKey<T>,
        name: &str,
        descr: &str,
        read: fn(&T) -> Vec<(&'static str, u64)>,
    ) -> Oid {
        let h = move |v: &mut Vnet, _: Option<&Value>| {
            let st = v.get(key).ok_or(VnetError::NoSuchModule)?;
            Ok(Value::Struct(read(st)))
        };
        Oid::new(name, descr, Ctype::Struct, false, Handler::Vnet(Rc::new(h)))
    }

    /// A global node with its own handler, which sees the caller's jail.
    pub fn global(
        name: &str,
        descr: &str,
        ctype: Ctype,
        h: impl Fn(&mut Kernel, Jid, Option<&Value>) -> Result<Value, SysctlError> + 'static,
    ) -> Oid {
        Oid::new(name, descr, ctype, true, Handler::Global(Rc::new(h)))
    }

    /// A global read-only constant.
    pub fn constant(name: &str, descr: &str, v: Value) -> Oid {
        let ctype = match v {
            Value::Int(_) => Ctype::Int,
            Value::Str(_) => Ctype::String,
            Value::Struct(_) => Ctype::Struct,
        };
        Oid::global(name, descr, ctype, move |_, _, _| Ok(v.clone())).read_only()
    }

    fn new(name: &str, descr: &str, ctype: Ctype, writable: bool, handler: Handler) -> Oid {
        Oid {
            name: name.to_string(),
            descr: descr.to_string(),
            ctype,
            writable,
            range: None,
            handler,
            owner: None,
        }
    }

    /// Values outside `min..=max` are refused with EINVAL.
    pub fn range(mut self, min: i64, max: i64) -> Oid {
        self.range = Some((min.into(), max.into()));
        self
    }

    /// `CTLFLAG_RD`.
    pub fn read_only(mut self) -> Oid {
        self.writable = false;
        self
    }

    /// Is this a per-vnet node?
    pub fn is_vnet(&self) -> bool {
        matches!(self.handler, Handler::Vnet(_))
    }

    /// Parse `s` as sysctl(8) does (`strtol(s, 0)`: decimal, `0x` hex,
    /// leading-0 octal), then check the type's bounds.
    pub fn parse(&self, s: &str) -> Result<Value, SysctlError> {
        let s = s.trim();
        match self.ctype {
            Ctype::String => return Ok(Value::Str(s.to_string())),
            Ctype::Struct => return Err(SysctlError::CannotSet(self.name.clone(), Ctype::Struct.number())),
            _ => {}
        }
        if s.is_empty() {
            return Err(SysctlError::Empty);
        }
        let bad = || SysctlError::Invalid(self.ctype.name(), s.to_string());
        let (neg, digits) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (radix, digits) = if let Some(h) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            (16, h)
        } else if digits.len() > 1 && digits.starts_with('0') {
            (8, &digits[1..])
        } else {
            (10, digits)
        };
        let n = i128::from_str_radix(digits, radix).map_err(|_| bad())?;
        let n = if neg { -n } else { n };
        let (lo, hi) = self.ctype.bounds();
        if n < lo || n > hi {
            return Err(bad());
        }
        Ok(Value::Int(n))
    }
}

/// The tree, ordered by name so listings are stable.
#[derive(Default)]
pub struct SysctlTree {
    oids: BTreeMap<String, Oid>,
}

impl SysctlTree {
    pub fn add(&mut self, oid: Oid) {
        self.oids.insert(oid.name.clone(), oid);
    }

    pub(crate) fn remove_owned(&mut self, slot: usize) {
        self.oids.retain(|_, o| o.owner != Some(slot));
    }

    pub fn get(&self, name: &str) -> Option<&Oid> {
        self.oids.get(name)
    }

    /// The leaves at or under `prefix` (all leaves for an empty prefix), or
    /// `UnknownOid` if there are none.
    pub fn names(&self, prefix: &str) -> Result<Vec<String>, SysctlError> {
        if prefix.is_empty() {
            return Ok(self.oids.keys().cloned().collect());
        }
        if self.oids.contains_key(prefix) {
            return Ok(vec![prefix.to_string()]);
        }
        let dotted = format!("{prefix}.");
        let v: Vec<String> = self
            .oids
            .range(dotted.clone()..)
            .take_while(|(k, _)| k.starts_with(&dotted))
            .map(|(k, _)| k.clone())
            .collect();
        if v.is_empty() {
            return Err(SysctlError::UnknownOid(prefix.to_string()));
        }
        Ok(v)
    }
}

impl Kernel {
    /// The node called `name`: a leaf, or `NotLeaf`/`UnknownOid`.
    pub fn sysctl_oid(&self, name: &str) -> Result<&Oid, SysctlError> {
        match self.sysctl.get(name) {
            Some(o) => Ok(o),
            None => match self.sysctl.names(name) {
                Ok(_) => Err(SysctlError::NotLeaf(name.to_string())),
                Err(e) => Err(e),
            },
        }
    }

    /// The leaves at or under `prefix`.
    pub fn sysctl_names(&self, prefix: &str) -> Result<Vec<String>, SysctlError> {
        self.sysctl.names(prefix)
    }

    /// Read a node as the jail `cred`; a per-vnet node reads the current
    /// vnet's copy.
    pub fn sysctl_read(&mut self, cred: Jid, name: &str) -> Result<Value, SysctlError> {
        self.sysctl_call(cred, name, None)
    }

    /// Write a node (the value as sysctl(8) would parse it) as the jail
    /// `cred`; returns the old and the new value.
    pub fn sysctl_write(&mut self, cred: Jid, name: &str, value: &str) -> Result<(Value, Value), SysctlError> {
        let oid = self.sysctl_oid(name)?;
        if !oid.writable {
            return Err(SysctlError::ReadOnly(name.to_string()));
        }
        let v = oid.parse(value)?;
        let (range, is_vnet) = (oid.range, oid.is_vnet());
        if cred != Jid::HOST {
            let own_vnet = self.prison(cred).is_some_and(|p| p.owns_vnet());
            if !(is_vnet && own_vnet) {
                return Err(SysctlError::Perm);
            }
        }
        if let (Some((lo, hi)), Value::Int(n)) = (range, &v)
            && !(lo..=hi).contains(n)
        {
            return Err(SysctlError::Range);
        }
        let old = self.sysctl_call(cred, name, Some(&v))?;
        let new = self.sysctl_call(cred, name, None)?;
        Ok((old, new))
    }

    fn sysctl_call(&mut self, cred: Jid, name: &str, new: Option<&Value>) -> Result<Value, SysctlError> {
        let handler = self.sysctl_oid(name)?.handler.clone();
        match handler {
            Handler::Vnet(h) => {
                let id = self.curvnet()?;
                let v = self.vnets.get_mut(id)?;
                h(v, new)
            }
            Handler::Global(h) => h(self, cred, new),
        }
    }
}
