//! jail(8), jls(8), jexec(8), hostname(1): the hierarchy, parameters,
//! output formats and FreeBSD's errors.

mod common;

use common::script as sh;
use vimage::{Host, Jid};

fn host() -> Host {
    Host::new(Default::default())
}

#[track_caller]
fn ok(h: &Host, cmd: &str) -> String {
    let o = h.exec(cmd);
    assert_eq!((o.status, o.stderr.as_str()), (0, ""), "{cmd}: {o:?}");
    o.stdout
}

#[track_caller]
fn fails(h: &Host, cmd: &str, err: &str) {
    let o = h.exec(cmd);
    assert_eq!((o.status, o.stderr.as_str()), (1, err), "{cmd}: {o:?}");
}

#[test]
fn create_list_and_remove() {
    let h = host();
    // Success is silent, as jail(8) is for command-line jails.
    assert_eq!(ok(&h, "jail -c name=r1 vnet persist host.hostname=r1"), "");
    assert_eq!(
        ok(&h, "jail -i -c name=r2 vnet persist host.hostname=r2.lab.example"),
        "2\n"
    );
    assert_eq!(
        ok(&h, "jls"),
        "   JID  IP Address      Hostname                      Path\n     1                  r1                            /\n     2                  r2.lab.example                /\n"
    );
    assert_eq!(
        ok(&h, "jls -v -j r2"),
        "   JID  Hostname                      Path\n        Name                          State\n        CPUSetID\n        IP Address(es)\n     2  r2.lab.example                /\n        r2                            ACTIVE\n        3\n"
    );
    assert_eq!(
        ok(&h, "jls -N"),
        " JID             IP Address      Hostname                      Path\n r1                              r1                            /\n r2                              r2.lab.example                /\n"
    );
    assert_eq!(ok(&h, "jls name jid vnet"), "r1 1 new\nr2 2 new\n");
    assert_eq!(ok(&h, "jls -h jid name"), "jid name\n1 r1\n2 r2\n");
    assert_eq!(
        ok(&h, "jls -n -j r1"),
        "jid=1 name=r1 parent=0 path=/ persist vnet=new children.cur=0 children.max=0 host=new host.hostname=r1 ip4=inherit ip4.addr=\"\"\n"
    );
    assert_eq!(ok(&h, "jexec r1 hostname"), "r1\n");
    assert_eq!(ok(&h, "jexec 2 hostname -s"), "r2\n");
    assert_eq!(ok(&h, "jexec r2 hostname -d"), "lab.example\n");
    assert_eq!(ok(&h, "hostname"), "vimage\n");
    assert_eq!(h.kernel().vnets().len(), 3);
    assert_eq!(ok(&h, "jail -r r1"), "");
    assert_eq!(ok(&h, "jls name"), "r2\n");
    assert_eq!(h.kernel().vnets().len(), 2, "r1's vnet is destroyed");
    assert_eq!(ok(&h, "jail -r '*'"), "r2: removed\n");
    assert_eq!(h.kernel().vnets().len(), 1);
}

#[test]
fn hierarchy_names_limits_and_vnet_inheritance() {
    let h = host();
    // children.max defaults to 0.
    ok(&h, "jail -c name=lab persist");
    fails(&h, "jail -c name=lab.r1 vnet persist", "jail: prison limit exceeded\n");
    ok(&h, "jail -m name=lab children.max=2");
    ok(&h, "jail -c name=lab.r1 vnet persist host.hostname=r1");
    ok(&h, "jail -c name=lab.h1 persist");
    fails(&h, "jail -c name=lab.h2 persist", "jail: prison limit exceeded\n");
    fails(&h, "jail -c name=nope.r1 persist", "jail: jail \"nope\" not found\n");
    // Inside lab, the children have short names; jls shows only them.
    assert_eq!(ok(&h, "jexec lab jls name"), "r1\nh1\n");
    assert_eq!(ok(&h, "jls name"), "lab\nlab.r1\nlab.h1\n");
    assert_eq!(ok(&h, "jexec lab jexec r1 hostname"), "r1\n");
    // lab has children.max 2 but its child may not create (its own is 0).
    fails(
        &h,
        "jexec lab.r1 jail -c name=x persist",
        "jail: jail_set: Operation not permitted\n",
    );
    // vnet=inherit (the default) shares the parent's vnet.
    let k = h.kernel();
    let id = |n: &str| k.jail_getid(Jid::HOST, n).expect(n);
    let v = |n: &str| k.prison_vnet(id(n)).expect(n);
    assert_eq!(v("lab"), k.vnet0());
    assert_eq!(v("lab.h1"), k.vnet0());
    assert_ne!(v("lab.r1"), k.vnet0());
    drop(k);
    // A copy of the parent's hostname unless set (host=new), or the
    // parent's itself (host=inherit).
    assert_eq!(ok(&h, "jexec lab.h1 hostname"), "vimage\n");
    ok(&h, "jail -m name=lab.h1 host=inherit");
    ok(&h, "jail -m name=lab host.hostname=lab.example");
    assert_eq!(ok(&h, "jexec lab.h1 hostname"), "lab.example\n");
    // Removing the parent removes the children and their vnets.
    assert_eq!(h.kernel().vnets().len(), 2);
    ok(&h, "jail -r lab");
    assert_eq!(
        ok(&h, "jls"),
        "   JID  IP Address      Hostname                      Path\n"
    );
    assert_eq!(h.kernel().vnets().len(), 1);
}

#[test]
fn freebsd_errors() {
    let h = host();
    ok(&h, "jail -c name=r1 vnet persist");
    fails(&h, "jail -c name=r1 persist", "jail: \"r1\" already exists\n");
    fails(&h, "jail -c name=x jid=1 persist", "jail: jail 1 already exists\n");
    fails(&h, "jail -c name=x persist bogus=1", "jail: unknown parameter: bogus\n");
    fails(&h, "jail -c name=x", "jail: new jail must persist or attach\n");
    fails(
        &h,
        "jail -c name=x vnet=disable persist",
        "jail: jail_set: Invalid argument\n",
    );
    fails(
        &h,
        "jail -c name=7 jid=8 persist",
        "jail: name cannot be numeric (unless it is the jid)\n",
    );
    fails(
        &h,
        "jail -m name=r1 vnet=inherit",
        "jail: vnet cannot be changed after creation\n",
    );
    ok(&h, "jail -m name=r1 vnet=new"); // unchanged: accepted
    fails(&h, "jail -r r9", "jail: \"r9\" not found\n");
    fails(&h, "jail -m name=r9 persist", "jail: \"r9\" not found\n");
    fails(&h, "jail -m persist", "jail: no jail specified\n");
    fails(&h, "jexec r9 hostname", "jexec: jail \"r9\" not found\n");
    fails(&h, "jexec 42 hostname", "jexec: jail 42 not found\n");
    fails(&h, "jls -j r9", "jls: jail \"r9\" not found\n");
    fails(&h, "jls bogus", "jls: unknown parameter: bogus\n");
    let o = h.exec("jail -c -r name=x");
    assert!(o.stderr.starts_with("usage: jail"), "{o:?}");
    let o = h.exec("jexec");
    assert_eq!(o.status, 1);
    assert!(o.stderr.contains("usage: jexec"), "{o:?}");
    // Without host.hostname a jail starts with its parent's name.
    ok(&h, "jail -c name=p persist host.hostname=parent.example children.max=1");
    ok(&h, "jail -c name=p.c persist");
    assert_eq!(ok(&h, "jexec p.c hostname"), "parent.example\n");
    assert_eq!(ok(&h, "jexec p hostname"), "parent.example\n");
    // A numeric name must be the jid.
    fails(
        &h,
        "jail -c name=12 jid=11 persist",
        "jail: name cannot be numeric (unless it is the jid)\n",
    );
    // No command: a shell in the jail, reading its commands from input.
    assert_eq!(ok(&h, "echo hostname | jexec p.c"), "parent.example\n");
    // A numeric name is the jid.
    ok(&h, "jail -c name=7 persist");
    assert_eq!(ok(&h, "jls -j 7 jid name"), "7 7\n");
    // Jails cannot see or touch what is not below them.
    ok(&h, "jail -c name=other persist");
    fails(&h, "jexec r1 jexec other hostname", "jexec: jail \"other\" not found\n");
    fails(&h, "jexec r1 jexec 0 hostname", "jexec: jail 0 not found\n");
    let o = h.exec("vimage-no-such-command");
    assert_eq!(o.status, 127);
}

#[test]
fn a_jail_without_persist_lives_as_long_as_its_command() {
    let h = host();
    assert_eq!(
        ok(&h, "jail -c name=tmp vnet command=sysctl -n security.jail.vnet"),
        "1\n"
    );
    assert_eq!(ok(&h, "jls name"), "", "gone with its last process");
    assert_eq!(h.kernel().vnets().len(), 1, "and its vnet with it");
    // nopersist on a jail with no process removes it.
    ok(&h, "jail -c name=p persist");
    ok(&h, "jail -m name=p nopersist");
    assert_eq!(ok(&h, "jls name"), "");
}

#[test]
fn hostname_is_virtualized() {
    let h = host();
    ok(&h, "jail -c name=a persist host.hostname=a");
    ok(&h, "jexec a hostname b.example.org");
    assert_eq!(ok(&h, "jexec a hostname"), "b.example.org\n");
    assert_eq!(ok(&h, "jexec a sysctl -n kern.hostname"), "b.example.org\n");
    assert_eq!(ok(&h, "hostname"), "vimage\n");
    let o = h.exec("hostname -s -d");
    assert_eq!(o.status, 1);
}

#[test]
fn classic_jails_use_only_their_addresses() {
    let h = host();
    ok(&h, "ifconfig epair create");
    ok(&h, "ifconfig epair0a inet 10.0.0.1/24");
    // IF|A: jail(8) puts the address on the interface (a /32) first.
    ok(&h, "jail -c name=www 'ip4.addr=epair0a|10.0.0.5' persist");
    ok(&h, "jail -c name=db interface=lo0 ip4.addr=10.0.0.6,10.0.0.7 persist");
    let ifc = ok(&h, "ifconfig epair0a inet");
    assert!(ifc.contains("\tinet 10.0.0.5 netmask 0xffffffff\n"), "{ifc}");
    assert_eq!(
        ok(&h, "jls"),
        "   JID  IP Address      Hostname                      Path\n     1  10.0.0.5        vimage                        /\n     2  10.0.0.6        vimage                        /\n"
    );
    assert!(ok(&h, "jls -v -j db").ends_with("        3\n        10.0.0.6\n        10.0.0.7\n"));
    assert_eq!(ok(&h, "jls -j db ip4 ip4.addr"), "new 10.0.0.6,10.0.0.7\n");
    // kern_jail_set's refusals.
    fails(
        &h,
        "jail -c name=v vnet ip4.addr=10.9.0.1 persist",
        "jail: vnet jails cannot have IP address restrictions\n",
    );
    fails(
        &h,
        "jail -c name=c ip4.addr=10.0.0.7,10.0.0.8 persist",
        "jail: IPv4 addresses clash\n",
    );
    fails(
        &h,
        "jail -c name=z ip4.addr=0.0.0.0 persist",
        "jail: jail_set: Invalid argument\n",
    );
    fails(
        &h,
        "jail -m name=www ip4=disable",
        "jail: ip4 cannot be changed after creation\n",
    );
    // A child's addresses are within its parent's.
    ok(&h, "jail -m name=www children.max=1");
    fails(
        &h,
        "jail -c name=www.sub ip4.addr=10.0.0.1 persist",
        "jail: jail_set: Operation not permitted\n",
    );
    fails(
        &h,
        "jail -c name=e ip4.addr='nope0|10.0.0.9' persist",
        "ifconfig: interface nope0 does not exist\njail: e: ifconfig nope0 inet 10.0.0.9 netmask 255.255.255.255 alias: failed\n",
    );
    assert_eq!(ok(&h, "jls name"), "www\ndb\n", "the failed jail is gone");

    let (st, out, err) = sh(
        &h,
        r#"# The single-address jail's wildcard is its address; the host's
# *:80 does not clash with it. The two-address jail keeps *:80, and
# takes only connections to its own addresses.
jexec www nc -l 80 &
jexec db nc -l 80 &
nc -l 80 &
sockstat -4l | awk 'NR > 1 { print $6 }' | sort
echo to-db | nc -N 10.0.0.7 80
echo to-host | nc -N 10.0.0.1 80
echo to-www | nc -N 10.0.0.5 80
wait
# A jail's own sources: its address, never another (bind: EADDRNOTAVAIL);
# its 127.0.0.1 is its address.
tcpdump -t -i lo0 -n -c 2 icmp | cut -d, -f1 &
jexec www ping -c 1 -q 10.0.0.1 > /dev/null
wait
jexec www ping -c 1 -S 10.0.0.1 10.0.0.1
jexec www nc -z -s 10.0.0.1 10.0.0.1 80
jexec www nc -l 81 &
jexec www nc -z 127.0.0.1 81
"#,
    );
    assert_eq!(
        out,
        "*:80\n*:80\n10.0.0.5:80\nto-db\nto-host\nto-www\n\
         IP 10.0.0.5 > 10.0.0.1: ICMP echo request\nIP 10.0.0.1 > 10.0.0.5: ICMP echo reply\n",
        "{err}"
    );
    assert_eq!(st, 1, "ping -S and nc -s fail: {err}");
    assert!(err.contains("ping: bind: Can't assign requested address\n"), "{err}");
    assert!(
        err.contains("nc: bind failed: Can't assign requested address\n"),
        "{err}"
    );
    assert!(
        err.ends_with("Connection to 127.0.0.1 81 port [tcp/*] succeeded!\n"),
        "{err}"
    );
    // Removing the jail takes its address off the interface.
    ok(&h, "jail -r www");
    assert!(!ok(&h, "ifconfig epair0a").contains("10.0.0.5"));
}
