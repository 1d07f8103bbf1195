//! The routing socket (route(4)) and `route monitor`: what a routing
//! daemon hears of route, address and interface changes in its vnet.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use vimage::socket::RouteSocket;
use vimage::userland::route::print_rtmsg;
use vimage::{Host, Stdio};

fn ok(h: &Host, line: &str) {
    let o = h.exec(line);
    assert!(o.success(), "{line}: {}", o.stderr);
}

/// A routing socket in jail r1 that writes down every message as
/// route(8) prints it.
fn listener(h: &Host) -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let jid = h.exec("jls -j r1 jid").stdout.trim().parse().expect("jid");
    let p = h.proc(vimage::Jid(jid), Stdio::inherit());
    let s = RouteSocket::open(&p, None).expect("socket");
    let out = seen.clone();
    h.tasks().spawn(Box::pin(async move {
        while let Ok(m) = s.recv().await {
            out.borrow_mut().push(print_rtmsg(&m, |_| None));
        }
        0
    }));
    h.run_for(Duration::from_millis(1));
    seen
}

#[test]
fn a_daemon_hears_interfaces_addresses_and_routes() {
    let h = Host::new(Default::default());
    ok(&h, "jail -c name=r1 vnet persist");
    let seen = listener(&h);
    ok(&h, "ifconfig epair0 create");
    ok(&h, "ifconfig epair0a vnet r1");
    ok(&h, "jexec r1 ifconfig epair0a inet 10.0.0.1/24 up");
    ok(&h, "jexec r1 route add -net 10.1.0.0/16 10.0.0.2");
    ok(&h, "jexec r1 route delete -net 10.1.0.0/16");
    let o = h.exec("jexec r1 route add -net 10.2.0.0/16 10.9.9.9");
    assert!(!o.success(), "a gateway off-link is refused");
    ok(&h, "jexec r1 ifconfig epair0a down");
    ok(&h, "ifconfig epair0a -vnet r1");
    h.run_for(Duration::from_millis(1));
    let seen = seen.borrow();
    let text = seen.join("\n");
    let first = |what: &str| seen.iter().position(|m| m.starts_with(what));
    // The interface arrives, gets its address, its prefix route.
    let arrival = first("RTM_IFANNOUNCE: iface arrival/departure: len 24, if# ").expect(&text);
    assert!(seen[arrival].ends_with("what: arrival\n"), "{text}");
    assert!(
        text.contains(
            "RTM_NEWADDR: address being added to iface: len 92, metric 0, flags:<UP>\n\
             sockaddrs: <NETMASK,IFP,IFA,BRD>\n 255.255.255.0 epair0a 10.0.0.1 10.0.0.255\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "RTM_ADD: Add Route: len 208, pid: 0, seq 0, errno 0, flags:<UP,DONE>\n\
             locks:  inits: \nsockaddrs: <DST,GATEWAY,NETMASK>\n 10.0.0.0 link#"
        ),
        "{text}"
    );
    // route(8)'s own request, echoed with its pid and sequence number.
    let add = seen
        .iter()
        .find(|m| m.contains(" 10.1.0.0 10.0.0.2 255.255.0.0"))
        .expect(&text);
    assert!(
        add.starts_with("RTM_ADD: Add Route: len 200, pid: ")
            && add.contains(", seq 1, errno 0, flags:<UP,GATEWAY,DONE,STATIC>\n"),
        "{add}"
    );
    assert!(text.contains("RTM_DELETE: Delete Route: len "), "{text}");
    assert!(
        text.contains("RTM_IFINFO: iface status change: len 168, if# "),
        "{text}"
    );
    // Leaving: the address and its routes go, then the interface.
    assert!(text.contains("RTM_DELADDR: address being removed from iface"), "{text}");
    assert!(seen.last().is_some_and(|m| m.ends_with("what: departure\n")), "{text}");
}

#[test]
fn route_monitor_prints_until_interrupted() {
    let h = Host::new(Default::default());
    ok(&h, "jail -c name=r1 vnet persist");
    ok(&h, "ifconfig epair0 create");
    ok(&h, "ifconfig epair0a vnet r1");
    ok(&h, "jexec r1 ifconfig epair0a inet 10.0.0.1/24 up");
    let o = h.exec("jexec r1 sh -c 'route -n monitor & sleep 1; route add 10.5.0.0/16 10.0.0.7; sleep 1; kill %1'");
    assert!(
        o.stdout.contains(
            "\ngot message of size 200 on Thu Jan  1 00:00:01 1970\n\
             RTM_ADD: Add Route: len 200, pid: "
        ),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("sockaddrs: <DST,GATEWAY,NETMASK>\n 10.5.0.0 10.0.0.7 255.255.0.0\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_full_queue_drops_and_counts() {
    let h = Host::new(Default::default());
    ok(&h, "jail -c name=r1 vnet persist");
    ok(&h, "jexec r1 sysctl net.route.netisr_maxqlen=2");
    let jid = h.exec("jls -j r1 jid").stdout.trim().parse().expect("jid");
    let p = h.proc(vimage::Jid(jid), Stdio::inherit());
    let s = RouteSocket::open(&p, Some(false)).expect("socket");
    ok(&h, "ifconfig epair0 create");
    ok(&h, "ifconfig epair0a vnet r1");
    ok(&h, "jexec r1 ifconfig epair0a inet 10.0.0.1/24 up");
    let drops = p
        .vnet(|_, v| v.builtin(vimage::net::rtsock::RTSOCK).drops)
        .expect("vnet");
    assert!(drops > 0, "nothing dropped");
    let got = h.block_on(async move {
        let mut n = 0;
        while n < 2 {
            s.recv().await.expect("recv");
            n += 1;
        }
        n
    });
    assert_eq!(got, Ok(2));
}

#[test]
fn ipv6_addresses_and_routes_are_told_too() {
    let h = Host::new(Default::default());
    ok(&h, "jail -c name=r1 vnet persist");
    ok(&h, "ifconfig epair0 create");
    ok(&h, "ifconfig epair0a vnet r1");
    let seen = listener(&h);
    ok(&h, "jexec r1 ifconfig epair0a inet6 2001:db8::1/64 up");
    ok(&h, "jexec r1 route -6 add -net 2001:db8:1::/48 2001:db8::2");
    ok(&h, "jexec r1 route -6 delete -net 2001:db8:1::/48");
    ok(&h, "jexec r1 ifconfig epair0a inet6 2001:db8::1 -alias");
    h.run_for(Duration::from_millis(1));
    let text = seen.borrow().join("\n");
    // The link-local address first, with its zone, and its route.
    assert!(
        text.contains("sockaddrs: <NETMASK,IFP,IFA>\n ffff:ffff:ffff:ffff:: epair0a fe80::")
            && text.contains(" fe80::%"),
        "{text}"
    );
    for m in [
        "RTM_ADD: Add Route: len 240, pid: 0, seq 0, errno 0, flags:<UP,DONE>\nlocks:  inits: \n\
         sockaddrs: <DST,GATEWAY,NETMASK>\n 2001:db8:: link#",
        "RTM_NEWADDR: address being added to iface: len 108, metric 0, flags:<UP>\n\
         sockaddrs: <NETMASK,IFP,IFA>\n ffff:ffff:ffff:ffff:: epair0a 2001:db8::1\n",
        "seq 1, errno 0, flags:<UP,GATEWAY,DONE,STATIC>\nlocks:  inits: \n\
         sockaddrs: <DST,GATEWAY,NETMASK>\n 2001:db8:1:: 2001:db8::2 ffff:ffff:ffff::\n",
        "RTM_DELETE: Delete Route: len 248, pid: ",
        "RTM_DELETE: Delete Route: len 240, pid: 0, seq 0, errno 0, flags:<UP,DONE>\n",
        "RTM_DELADDR: address being removed from iface: len 108, metric 0, flags:<UP>\n\
         sockaddrs: <NETMASK,IFP,IFA>\n ffff:ffff:ffff:ffff:: epair0a 2001:db8::1\n",
    ] {
        assert!(text.contains(m), "{m}\nnot in\n{text}");
    }
    assert!(
        text.contains("RTM_ADD: Add Route: len 248, pid: "),
        "route(8)'s own add: {text}"
    );
}
