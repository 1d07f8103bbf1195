//! sysctl(8) and the sysctl tree: formats, errors, per-vnet isolation and
//! jail permissions.

use vimage::kern::sysctl::{Oid, Value};
use vimage::vnet::module::{SI_ORDER_ANY, SI_SUB_PROTO_DOMAIN};
use vimage::{Host, Jid, Module, Prio};

fn host() -> Host {
    Host::new(Default::default())
}

#[track_caller]
fn ok(h: &Host, cmd: &str) -> String {
    let o = h.exec(cmd);
    assert_eq!(o.status, 0, "{cmd}: {o:?}");
    assert_eq!(o.stderr, "", "{cmd}");
    o.stdout
}

#[test]
fn read_write_and_output_formats() {
    let h = host();
    assert_eq!(ok(&h, "sysctl net.inet.ip.ttl"), "net.inet.ip.ttl: 64\n");
    assert_eq!(ok(&h, "sysctl -n net.inet.ip.ttl"), "64\n");
    assert_eq!(ok(&h, "sysctl -e net.inet.ip.ttl"), "net.inet.ip.ttl=64\n");
    assert_eq!(ok(&h, "sysctl net.inet.ip.ttl=100"), "net.inet.ip.ttl: 64 -> 100\n");
    assert_eq!(ok(&h, "sysctl -n net.inet.ip.ttl=0x20"), "100 -> 32\n");
    assert_eq!(
        ok(&h, "sysctl net.inet.ip.ttl=010"),
        "net.inet.ip.ttl: 32 -> 8\n",
        "octal, as strtol"
    );
    assert_eq!(
        ok(&h, "sysctl -d net.inet.ip.forwarding"),
        "net.inet.ip.forwarding: Enable IP forwarding between interfaces\n"
    );
    assert_eq!(ok(&h, "sysctl -t net.inet.ip.ttl"), "net.inet.ip.ttl: integer\n");
    assert_eq!(
        ok(&h, "sysctl -N net.inet.ip"),
        "net.inet.ip.forwarding\nnet.inet.ip.maxfragpackets\nnet.inet.ip.maxfragsperpacket\nnet.inet.ip.portrange.first\nnet.inet.ip.portrange.last\nnet.inet.ip.redirect\n\
         net.inet.ip.sourceroute\nnet.inet.ip.stats\nnet.inet.ip.ttl\n"
    );
    // A prefix lists the leaves below it, not the node itself.
    assert_eq!(
        ok(&h, "sysctl net.link.ether.inet"),
        "net.link.ether.inet.max_age: 1200\nnet.link.ether.inet.max_entries: 4096\n\
         net.link.ether.inet.maxhold: 16\nnet.link.ether.inet.maxtries: 5\n"
    );
    assert!(ok(&h, "sysctl net.inet.ip.stats").starts_with("net.inet.ip.stats: { total = 0, badsum = 0,"));
    // Booleans read 0/1; any non-zero value is true.
    assert_eq!(
        ok(&h, "sysctl net.inet.ip.forwarding=5"),
        "net.inet.ip.forwarding: 0 -> 1\n"
    );
    // -a lists everything, kern first, in a stable order.
    let all = ok(&h, "sysctl -a");
    assert!(all.starts_with("kern."), "{all}");
    assert!(all.contains("net.inet.ip.ttl: 8\n"));
    assert!(all.contains("kern.ostype: vimage\n"));
    assert_eq!(ok(&h, "sysctl kern.hostname"), "kern.hostname: vimage\n");
    assert_eq!(ok(&h, "sysctl -n kern.vimage.seed kern.vimage.clock"), "1\nvirtual\n");
    // Several names, and name: value split on ':' as well as '='.
    assert_eq!(ok(&h, "sysctl -n net.inet.ip.ttl:9 net.inet.ip.ttl"), "8 -> 9\n9\n");
}

#[test]
fn freebsd_errors() {
    let h = host();
    let cases = [
        ("sysctl net.inet.nope", "sysctl: unknown oid 'net.inet.nope'\n", ""),
        ("sysctl net.inet=1", "sysctl: oid 'net.inet' isn't a leaf node\n", ""),
        (
            "sysctl kern.ostype=Linux",
            "sysctl: oid 'kern.ostype' is read only\n",
            "",
        ),
        ("sysctl net.inet.ip.ttl=abc", "sysctl: invalid integer 'abc'\n", ""),
        (
            "sysctl net.inet.ip.ttl=99999999999",
            "sysctl: invalid integer '99999999999'\n",
            "",
        ),
        ("sysctl net.inet.ip.ttl=", "sysctl: empty numeric value\n", ""),
        (
            "sysctl net.inet.ip.ttl=999",
            "sysctl: net.inet.ip.ttl=999: Invalid argument\n",
            "net.inet.ip.ttl: 64\n",
        ),
    ];
    for (cmd, err, out) in cases {
        let o = h.exec(cmd);
        assert_eq!((o.status, o.stderr.as_str(), o.stdout.as_str()), (1, err, out), "{cmd}");
    }
    // The exit status counts the failures; -q silences unknown oids, -i ignores them.
    let o = h.exec("sysctl nope.a net.inet.ip.ttl nope.b");
    assert_eq!((o.status, o.stdout.as_str()), (2, "net.inet.ip.ttl: 64\n"));
    let o = h.exec("sysctl -q nope.a");
    assert_eq!((o.status, o.stderr.as_str()), (1, ""));
    let o = h.exec("sysctl -i nope.a");
    assert_eq!((o.status, o.stderr.as_str()), (0, ""));
    // Usage.
    let o = h.exec("sysctl");
    assert_eq!(o.status, 1);
    assert!(o.stderr.starts_with("usage: sysctl"), "{o:?}");
    let o = h.exec("sysctl -Z x");
    assert_eq!(o.status, 1);
    assert!(
        o.stderr.starts_with("sysctl: illegal option -- Z\nusage: sysctl"),
        "{o:?}"
    );
}

#[test]
fn a_setting_in_one_vnet_never_changes_another() {
    let h = host();
    let n = 200;
    for i in 0..n {
        ok(&h, &format!("jail -c name=j{i} vnet persist"));
    }
    for i in (0..n).step_by(3) {
        ok(&h, &format!("jexec j{i} sysctl net.inet.ip.forwarding=1"));
        ok(&h, &format!("jexec j{i} sysctl net.inet.ip.ttl={}", 1 + i % 255));
    }
    for i in 0..n {
        let want = if i % 3 == 0 {
            format!("1\n{}\n", 1 + i % 255)
        } else {
            "0\n64\n".to_string()
        };
        let got = ok(
            &h,
            &format!("jexec j{i} sysctl -n net.inet.ip.forwarding net.inet.ip.ttl"),
        );
        assert_eq!(got, want, "j{i}");
    }
    assert_eq!(
        ok(&h, "sysctl -n net.inet.ip.forwarding net.inet.ip.ttl"),
        "0\n64\n",
        "vnet0"
    );
}

#[test]
fn jail_permissions() {
    let h = host();
    ok(&h, "jail -c name=v vnet persist");
    ok(&h, "jail -c name=nv persist");
    // A jail with its own vnet writes that vnet's nodes...
    assert_eq!(
        ok(&h, "jexec v sysctl net.inet.ip.forwarding=1"),
        "net.inet.ip.forwarding: 0 -> 1\n"
    );
    // ...but no global node.
    let o = h.exec("jexec v sysctl kern.hostname=x");
    assert_eq!(o.status, 1);
    assert_eq!(o.stderr, "sysctl: kern.hostname=x: Operation not permitted\n");
    // A jail sharing the host's vnet writes nothing, and reads the host's copy.
    let o = h.exec("jexec nv sysctl net.inet.ip.ttl=3");
    assert_eq!(o.stdout, "net.inet.ip.ttl: 64\n");
    assert_eq!(o.stderr, "sysctl: net.inet.ip.ttl=3: Operation not permitted\n");
    assert_eq!(ok(&h, "jexec nv sysctl -n net.inet.ip.forwarding"), "0\n");
    assert_eq!(
        ok(&h, "jexec nv sysctl -n security.jail.jailed security.jail.vnet"),
        "1\n0\n"
    );
    assert_eq!(
        ok(&h, "jexec v sysctl -n security.jail.jailed security.jail.vnet"),
        "1\n1\n"
    );
    assert_eq!(ok(&h, "sysctl -n security.jail.jailed"), "0\n");
    // The host writes global nodes.
    assert_eq!(ok(&h, "sysctl kern.hostname=box"), "kern.hostname: vimage -> box\n");
}

#[test]
fn modules_register_their_sysctls_and_take_them_away() {
    let h = host();
    #[derive(Default)]
    struct Counter {
        limit: u32,
        hits: u64,
    }
    let key = h
        .kernel()
        .module_register(
            Module::new("counter", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), |_, _| {
                Counter { limit: 10, hits: 0 }
            })
            .sysctl_range("net.counter.limit", "How many", |s| &mut s.limit, 1, 100)
            .oid(|k| {
                Oid::vnet_stats(k, "net.counter.stats", "Counter statistics", |s| {
                    vec![("hits", s.hits), ("limit", s.limit as u64)]
                })
            }),
        )
        .expect("register");
    ok(&h, "jail -c name=a vnet persist");
    assert_eq!(
        ok(&h, "jexec a sysctl net.counter.limit=42"),
        "net.counter.limit: 10 -> 42\n"
    );
    assert_eq!(
        ok(&h, "jexec a sysctl -o net.counter"),
        "net.counter.limit: 42\nnet.counter.stats: { hits = 0, limit = 42 }\n"
    );
    let o = h.exec("jexec a sysctl net.counter.stats=1");
    assert_eq!(o.stderr, "sysctl: oid 'net.counter.stats' is read only\n");
    // The library API reads the same state through the same key.
    let a = h.kernel().jail_getid(Jid::HOST, "a").expect("a");
    let v = h.kernel().prison_vnet(a).expect("vnet");
    {
        let mut k = h.kernel();
        let mut k = k.curvnet_set(v).expect("curvnet");
        assert_eq!(k.sysctl_read(Jid::HOST, "net.counter.limit"), Ok(Value::Int(42)));
        assert_eq!(k.vnet(v).expect("vnet").get(key).map(|c| c.limit), Some(42));
    }
    h.kernel().module_unregister(key).expect("unregister");
    assert_eq!(
        h.exec("sysctl net.counter").stderr,
        "sysctl: unknown oid 'net.counter'\n"
    );
}

#[test]
fn per_vnet_nodes_need_a_current_vnet() {
    let h = host();
    let mut k = h.kernel();
    let e = k.sysctl_read(Jid::HOST, "net.inet.ip.ttl");
    assert_eq!(
        e.map_err(|e| e.to_string()),
        Err("no current vnet (CURVNET_SET missing)".into())
    );
    assert_eq!(
        k.sysctl_read(Jid::HOST, "kern.ostype"),
        Ok(Value::Str("vimage".into())),
        "global nodes do not"
    );
}

#[test]
fn a_walk_skips_opaque_nodes_unless_asked() {
    // sysctl -a lists no statistics structure (show_var returns at once
    // for opaque types without -o); -o and a node named by itself do.
    let h = host();
    let all = h.exec("sysctl -a").stdout;
    assert!(!all.contains(".stats:"), "{all}");
    assert!(all.contains("net.inet.icmp.icmplim: 200\n"));
    let with = h.exec("sysctl -a -o").stdout;
    assert!(with.contains("net.inet.icmp.stats: { error = 0,"), "{with}");
    assert!(!h.exec("sysctl net.inet.icmp").stdout.contains("stats"));
    assert!(
        h.exec("sysctl net.inet.icmp.stats")
            .stdout
            .starts_with("net.inet.icmp.stats: {")
    );
}
