//! Routing policy in FRR's language: `ip|ipv6 prefix-list NAME [seq N]
//! permit|deny PREFIX [ge N] [le N]` and `route-map NAME permit|deny N`
//! with the common `match` and `set` clauses (FRR's user guide, "Filtering"
//! and "Route Maps"). A list or map is applied in sequence order, the
//! first entry that matches decides, and nothing matching is a deny.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::bgpd::BgpFamily;
use super::conf::parse_prefix_of;
use super::rib::RibFamily;
use crate::wire::bgp::Attrs;

/// One line of a prefix list of IPv4 (`K` = `u32`) or IPv6 (`u128`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlEntry<K = u32> {
    pub permit: bool,
    pub prefix: (K, u8),
    pub ge: Option<u8>,
    pub le: Option<u8>,
}

impl<K: RibFamily> PlEntry<K> {
    /// Does `p` match: inside the entry's prefix, its length exactly the
    /// entry's or within `ge`..`le`.
    fn matches(&self, p: (K, u8)) -> bool {
        let (net, len) = self.prefix;
        if p.1 < len || p.0 & K::mask(len) != net {
            return false;
        }
        match (self.ge, self.le) {
            (None, None) => p.1 == len,
            (ge, le) => p.1 >= ge.unwrap_or(len) && p.1 <= le.unwrap_or(K::BITS),
        }
    }
}

/// A prefix list: its entries by sequence number.
pub type PrefixList<K = u32> = BTreeMap<u32, PlEntry<K>>;

/// Is `p` permitted by `list`?
pub fn prefix_list_apply<K: RibFamily>(list: &PrefixList<K>, p: (K, u8)) -> bool {
    list.values().find(|e| e.matches(p)).is_some_and(|e| e.permit)
}

/// One entry of a route map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RmEntry {
    pub permit: bool,
    /// `match ip address prefix-list NAME`, `match ipv6 address
    /// prefix-list NAME` (a route of the other family does not match).
    pub match_prefix_list: Option<String>,
    pub match_prefix_list6: Option<String>,
    /// `match community` is not here; `match metric N`.
    pub match_metric: Option<u32>,
    /// `set local-preference N`.
    pub local_pref: Option<u32>,
    /// `set metric N`.
    pub metric: Option<u32>,
    /// `set weight N`.
    pub weight: Option<u32>,
    /// `set as-path prepend ASN...`.
    pub prepend: Vec<u32>,
    /// `set ip next-hop A.B.C.D`, `set ipv6 next-hop global X:X::X:X`.
    pub next_hop: Option<u32>,
    pub next_hop6: Option<u128>,
    /// `set community AA:NN ... [additive]`.
    pub community: Option<(Vec<u32>, bool)>,
}

/// A route map: its entries by sequence number.
pub type RouteMap = BTreeMap<u32, RmEntry>;

/// What a route map makes of a route: `None` if denied, else its
/// attributes and weight as the `set` clauses leave them.
pub fn route_map_apply<K: BgpFamily>(
    map: &RouteMap,
    lists: &BTreeMap<String, PrefixList<K>>,
    p: (K, u8),
    attrs: &Attrs,
    weight: u32,
) -> Option<(Attrs, u32)> {
    for e in map.values() {
        let (mine, other) = K::match_lists(e);
        let pl_ok = other.is_none()
            && mine
                .as_ref()
                .is_none_or(|n| lists.get(n).is_some_and(|l| prefix_list_apply(l, p)));
        let metric_ok = e.match_metric.is_none_or(|m| attrs.med.unwrap_or(0) == m);
        if !(pl_ok && metric_ok) {
            continue;
        }
        if !e.permit {
            return None;
        }
        let mut a = attrs.clone();
        if let Some(l) = e.local_pref {
            a.local_pref = Some(l);
        }
        if let Some(m) = e.metric {
            a.med = Some(m);
        }
        K::set_next_hop(e, &mut a);
        for &asn in e.prepend.iter().rev() {
            a.prepend(asn, 1);
        }
        if let Some((c, additive)) = &e.community {
            if !additive {
                a.communities.clear();
            }
            for x in c {
                if !a.communities.contains(x) {
                    a.communities.push(*x);
                }
            }
        }
        return Some((a, e.weight.unwrap_or(weight)));
    }
    None
}

/// `AA:NN` as a community's 32 bits.
pub fn parse_community(s: &str) -> Option<u32> {
    let (a, n) = s.split_once(':')?;
    Some((a.parse::<u16>().ok()? as u32) << 16 | n.parse::<u16>().ok()? as u32)
}

pub fn community_text(c: u32) -> String {
    format!("{}:{}", c >> 16, c & 0xffff)
}

/// `ip|ipv6 prefix-list NAME [seq N] permit|deny PREFIX [ge N] [le N]`
/// (the words after `prefix-list`); FRR numbers an entry without `seq` 5
/// past the last.
pub fn prefix_list_line<K: RibFamily>(
    lists: &mut BTreeMap<String, PrefixList<K>>,
    neg: bool,
    w: &[&str],
) -> Result<(), String> {
    let ip = if K::INET6 { "ipv6" } else { "ip" };
    let bad = || format!("% Unknown command: {ip} prefix-list {}", w.join(" "));
    let [name, rest @ ..] = w else { return Err(bad()) };
    if neg && rest.is_empty() {
        lists.remove(*name);
        return Ok(());
    }
    let (seq, rest) = match rest {
        ["seq", n, r @ ..] => (Some(n.parse::<u32>().map_err(|_| bad())?), r),
        r => (None, r),
    };
    let (permit, p, mut opts) = match rest {
        [act @ ("permit" | "deny"), p, opts @ ..] => (*act == "permit", *p, opts),
        _ => return Err(bad()),
    };
    let prefix = if p == "any" {
        (K::ZERO, 0)
    } else {
        parse_prefix_of::<K>(p).ok_or_else(|| format!("% Malformed prefix: {p}"))?
    };
    let (mut ge, mut le) = (None, None);
    let len = |s: &str| s.parse::<u8>().ok().filter(|l| *l <= K::BITS).ok_or_else(bad);
    while let [k, v, more @ ..] = opts {
        match *k {
            "ge" => ge = Some(len(v)?),
            "le" => le = Some(len(v)?),
            _ => return Err(bad()),
        }
        opts = more;
    }
    if !opts.is_empty() {
        return Err(bad());
    }
    if p == "any" && ge.is_none() && le.is_none() {
        le = Some(K::BITS);
    }
    if ge.is_some_and(|g| g < prefix.1) || le.is_some_and(|l| l < prefix.1 || ge.is_some_and(|g| l < g)) {
        return Err("% Invalid prefix range, make sure: len < ge <= le".into());
    }
    let e = PlEntry { permit, prefix, ge, le };
    let list = lists.entry(name.to_string()).or_default();
    if neg {
        match seq {
            Some(q) => {
                list.remove(&q);
            }
            None => list.retain(|_, x| *x != e),
        }
        return Ok(());
    }
    let seq = seq.unwrap_or_else(|| list.keys().last().map_or(5, |s| (s / 5 + 1) * 5));
    list.insert(seq, e);
    Ok(())
}

/// A line inside `route-map NAME permit|deny N`; `None` if it is not one.
pub fn route_map_line(e: &mut RmEntry, neg: bool, w: &[&str]) -> Option<Result<(), String>> {
    let num = |s: &str| s.parse::<u32>().map_err(|_| format!("% Invalid value: {s}"));
    let r = match w {
        ["match", "ip", "address", "prefix-list", name] => {
            e.match_prefix_list = (!neg).then(|| name.to_string());
            Ok(())
        }
        ["match", "ipv6", "address", "prefix-list", name] => {
            e.match_prefix_list6 = (!neg).then(|| name.to_string());
            Ok(())
        }
        ["set", "ipv6", "next-hop", "global", a] => match a.parse::<std::net::Ipv6Addr>() {
            Ok(a) => {
                e.next_hop6 = (!neg).then_some(a.to_bits());
                Ok(())
            }
            Err(_) => Err(format!("% Malformed address: {a}")),
        },
        ["match", "metric", m] => num(m).map(|m| e.match_metric = (!neg).then_some(m)),
        ["set", "local-preference", n] => num(n).map(|n| e.local_pref = (!neg).then_some(n)),
        ["set", "metric", n] => num(n).map(|n| e.metric = (!neg).then_some(n)),
        ["set", "weight", n] => num(n).map(|n| e.weight = (!neg).then_some(n)),
        ["set", "as-path", "prepend", asns @ ..] if !asns.is_empty() || neg => asns
            .iter()
            .map(|a| num(a))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| e.prepend = if neg { Vec::new() } else { v }),
        ["set", "ip", "next-hop", a] => match crate::net::route::inet_addr(a) {
            Some(a) => {
                e.next_hop = (!neg).then_some(a);
                Ok(())
            }
            None => Err(format!("% Malformed address: {a}")),
        },
        ["set", "community", cs @ ..] if !cs.is_empty() || neg => {
            let additive = cs.last() == Some(&"additive");
            let cs = &cs[..cs.len() - additive as usize];
            cs.iter()
                .map(|c| parse_community(c).ok_or_else(|| format!("% Malformed community-list value: {c}")))
                .collect::<Result<Vec<_>, _>>()
                .map(|v| e.community = (!neg).then_some((v, additive)))
        }
        ["match", "metric"] | ["set", "local-preference"] | ["set", "metric"] | ["set", "weight"] if neg => {
            match w[1] {
                "metric" if w[0] == "match" => e.match_metric = None,
                "local-preference" => e.local_pref = None,
                "metric" => e.metric = None,
                _ => e.weight = None,
            }
            Ok(())
        }
        _ => return None,
    };
    Some(r)
}

/// The prefix lists and route maps as `show running-config` prints them.
pub fn policy_config(
    lists: &BTreeMap<String, PrefixList>,
    lists6: &BTreeMap<String, PrefixList<u128>>,
    maps: &BTreeMap<String, RouteMap>,
    s: &mut String,
) {
    prefix_lists_config(lists, s);
    prefix_lists_config(lists6, s);
    for (name, m) in maps {
        for (seq, e) in m {
            let _ = writeln!(s, "route-map {name} {} {seq}", if e.permit { "permit" } else { "deny" });
            if let Some(n) = &e.match_prefix_list {
                let _ = writeln!(s, " match ip address prefix-list {n}");
            }
            if let Some(n) = &e.match_prefix_list6 {
                let _ = writeln!(s, " match ipv6 address prefix-list {n}");
            }
            if let Some(m) = e.match_metric {
                let _ = writeln!(s, " match metric {m}");
            }
            if !e.prepend.is_empty() {
                let v: Vec<String> = e.prepend.iter().map(u32::to_string).collect();
                let _ = writeln!(s, " set as-path prepend {}", v.join(" "));
            }
            if let Some((c, add)) = &e.community {
                let v: Vec<String> = c.iter().map(|c| community_text(*c)).collect();
                let _ = writeln!(
                    s,
                    " set community {}{}",
                    v.join(" "),
                    if *add { " additive" } else { "" }
                );
            }
            if let Some(n) = e.next_hop {
                let _ = writeln!(s, " set ip next-hop {}", Ipv4Addr::from(n));
            }
            if let Some(n) = e.next_hop6 {
                let _ = writeln!(s, " set ipv6 next-hop global {}", std::net::Ipv6Addr::from(n));
            }
            if let Some(l) = e.local_pref {
                let _ = writeln!(s, " set local-preference {l}");
            }
            if let Some(m) = e.metric {
                let _ = writeln!(s, " set metric {m}");
            }
            if let Some(w) = e.weight {
                let _ = writeln!(s, " set weight {w}");
            }
            s.push_str("exit\n!\n");
        }
    }
}

/// One family's prefix lists as `show running-config` prints them.
fn prefix_lists_config<K: RibFamily>(lists: &BTreeMap<String, PrefixList<K>>, s: &mut String) {
    let ip = if K::INET6 { "ipv6" } else { "ip" };
    for (name, l) in lists {
        for (seq, e) in l {
            let (net, len) = e.prefix;
            let _ = write!(
                s,
                "{ip} prefix-list {name} seq {seq} {} {}/{len}",
                if e.permit { "permit" } else { "deny" },
                net.show()
            );
            if let Some(g) = e.ge {
                let _ = write!(s, " ge {g}");
            }
            if let Some(l) = e.le {
                let _ = write!(s, " le {l}");
            }
            s.push('\n');
        }
        s.push_str("!\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::routing::conf::parse_prefix;

    fn pl(lines: &[&str]) -> BTreeMap<String, PrefixList> {
        let mut lists = BTreeMap::new();
        for l in lines {
            let w: Vec<&str> = l.split_whitespace().collect();
            prefix_list_line(&mut lists, false, &w).expect(l);
        }
        lists
    }

    #[test]
    fn prefix_lists_match_as_frr_matches() {
        let lists = pl(&[
            "L deny 10.1.0.0/16 le 32",
            "L permit 10.0.0.0/8 ge 16 le 24",
            "L seq 100 permit 192.168.1.0/24",
        ]);
        let l = &lists["L"];
        assert_eq!(l.keys().copied().collect::<Vec<_>>(), [5, 10, 100]);
        let ok = |s: &str| prefix_list_apply(l, parse_prefix(s).expect(s));
        assert!(!ok("10.1.2.0/24"), "the deny comes first");
        assert!(ok("10.2.0.0/16") && ok("10.2.3.0/24"));
        assert!(!ok("10.0.0.0/8") && !ok("10.2.3.128/25"), "outside ge..le");
        assert!(ok("192.168.1.0/24") && !ok("192.168.1.0/25"), "exact without ge/le");
        assert!(!ok("172.16.0.0/12"), "no match is a deny");
        let any = pl(&["A permit any"]);
        assert!(prefix_list_apply(&any["A"], (0x0a00_0000, 8)));
        let mut lists = lists;
        assert!(prefix_list_line(&mut lists, false, &["L", "permit", "10.0.0.0/16", "ge", "8"]).is_err());
    }

    #[test]
    fn a_route_map_sets_what_its_first_matching_entry_says() {
        let lists = pl(&["ONE permit 10.1.0.0/16"]);
        let mut m = RouteMap::new();
        let mut e = RmEntry {
            permit: true,
            ..RmEntry::default()
        };
        for l in [
            "match ip address prefix-list ONE",
            "set local-preference 300",
            "set as-path prepend 65001 65001",
            "set community 65000:7 additive",
        ] {
            let w: Vec<&str> = l.split_whitespace().collect();
            route_map_line(&mut e, false, &w).expect(l).expect(l);
        }
        m.insert(10, e);
        m.insert(20, RmEntry::default());
        let a = Attrs {
            as_path: vec![crate::wire::bgp::Seg::Seq(vec![65002])],
            communities: vec![1],
            ..Attrs::default()
        };
        let (b, w) = route_map_apply(&m, &lists, (0x0a01_0000, 16), &a, 0).expect("permitted");
        assert_eq!(
            (b.local_pref, b.path_text(), w),
            (Some(300), "65001 65001 65002".into(), 0)
        );
        assert_eq!(b.communities, [1, 65000 << 16 | 7]);
        assert_eq!(
            route_map_apply(&m, &lists, (0x0a02_0000, 16), &a, 0),
            None,
            "entry 20 denies"
        );
    }
}
