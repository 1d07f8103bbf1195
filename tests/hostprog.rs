//! Real programs in jails (issue 11, docs/HOST_PROGRAMS.md): unmodified
//! Linux programs (curl, python3, nginx, redis) run as host processes
//! whose sockets are their jail's vnet's, checked byte for byte; a jailed
//! program cannot reach the host's own sockets, and one killed leaves no
//! socket behind.

mod common;

use std::time::{Duration, Instant};

use common::{ok, tmpdir};
use vimage::{ClockKind, Config, Host};

/// a — r1 — r2 — r3 — b: a is 10.0.0.1, b 10.0.3.2.
const CHAIN3: &str = "jail -c name=a vnet persist
         jail -c name=r1 vnet persist
         jail -c name=r2 vnet persist
         jail -c name=r3 vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair1 create
         ifconfig epair2 create
         ifconfig epair3 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet r1
         ifconfig epair1a vnet r1
         ifconfig epair1b vnet r2
         ifconfig epair2a vnet r2
         ifconfig epair2b vnet r3
         ifconfig epair3a vnet r3
         ifconfig epair3b vnet b
         jexec a ifconfig epair0a inet 10.0.0.1/24
         jexec r1 ifconfig epair0b inet 10.0.0.2/24
         jexec r1 ifconfig epair1a inet 10.0.1.1/24
         jexec r2 ifconfig epair1b inet 10.0.1.2/24
         jexec r2 ifconfig epair2a inet 10.0.2.1/24
         jexec r3 ifconfig epair2b inet 10.0.2.2/24
         jexec r3 ifconfig epair3a inet 10.0.3.1/24
         jexec b ifconfig epair3b inet 10.0.3.2/24
         jexec r1 sysctl net.inet.ip.forwarding=1
         jexec r2 sysctl net.inet.ip.forwarding=1
         jexec r3 sysctl net.inet.ip.forwarding=1
         jexec a route add default 10.0.0.2
         jexec r1 route add default 10.0.1.2
         jexec r2 route add -net 10.0.0.0/24 10.0.1.1
         jexec r2 route add -net 10.0.3.0/24 10.0.2.2
         jexec r3 route add default 10.0.2.1
         jexec b route add default 10.0.3.1";

/// [`CHAIN3`] under the real clock.
fn chain3() -> Host {
    let h = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    common::run(&h, CHAIN3);
    h
}

/// Run the engine until jail `jail` listens on TCP `port` (at most 20 s).
#[track_caller]
fn wait_listening(h: &Host, jail: &str, port: u16) {
    wait_sockstat(h, jail, "-l", port);
}

/// Run the engine until jail `jail` has a UDP socket on `port`.
#[track_caller]
fn wait_udp(h: &Host, jail: &str, port: u16) {
    wait_sockstat(h, jail, "-P udp", port);
}

#[track_caller]
fn wait_sockstat(h: &Host, jail: &str, opts: &str, port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let o = h.exec(&format!("jexec {jail} sockstat {opts}"));
        if o.stdout.contains(&format!(":{port} ")) {
            return;
        }
        h.run_for(Duration::from_millis(100));
    }
    panic!("{jail} never bound {port}: {:?}", h.exec("sockstat"));
}

/// Host programs the tests need; false (reason printed) if missing.
fn have(tools: &[(&str, &str)]) -> bool {
    tools.iter().all(|(t, p)| common::ensure_tool(t, p))
}

/// Python's http.server in jail `jail` serving `dir` on `bind`:`port`,
/// in the background, listening when this returns.
fn python_serves(h: &Host, jail: &str, dir: &std::path::Path, bind: &str, port: u16) {
    ok(
        h,
        &format!(
            "jexec {jail} python3 -m http.server -d {} -b {bind} {port} > /dev/null 2>&1 &",
            dir.display()
        ),
    );
    wait_listening(h, jail, port);
}

/// Fetch `url` with curl from jail a into `out`: the HTTP status and
/// the bytes.
fn curl_get(h: &Host, url: &str, out: &std::path::Path) -> (String, Vec<u8>) {
    let code = ok(
        h,
        &format!("jexec a curl -s -S -o {} -w %{{http_code}} {url}", out.display()),
    );
    (code, std::fs::read(out).unwrap_or_default())
}

#[test]
fn curl_fetches_from_python_three_routers_away_byte_for_byte() {
    if !have(&[("curl", "curl"), ("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-py");
    let blob = common::random_bytes(10 << 20, 11);
    std::fs::write(dir.join("blob"), &blob).expect("blob");
    let h = chain3();
    python_serves(&h, "b", &dir, "10.0.3.2", 8000);
    let got = dir.join("got");
    let (code, bytes) = curl_get(&h, "http://10.0.3.2:8000/blob", &got);
    assert_eq!(code, "200");
    assert!(bytes == blob, "10 MB byte for byte");
    // The server's socket is b's, in its vnet: netstat there shows the
    // connection curl made (closed by now, in TIME_WAIT at the server).
    let n = ok(&h, "jexec b netstat -an -p tcp");
    assert!(n.contains("10.0.3.2.8000") && n.contains("10.0.0.1."), "{n}");
    h.tasks().kill_all();
}

#[test]
fn nginx_with_workers_serves_curl_across_jails() {
    if !have(&[("curl", "curl"), ("nginx", "nginx-light")]) {
        return;
    }
    let dir = tmpdir("hostprog-nginx");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("www");
    let blob = common::random_bytes(10 << 20, 12);
    std::fs::write(www.join("blob"), &blob).expect("blob");
    let d = dir.display();
    // A master that forks its workers: they accept on the socket it made.
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off; master_process on; worker_processes 2; user root;\n\
             pid {d}/nginx.pid; error_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/px;\n\
             fastcgi_temp_path {d}/fc; uwsgi_temp_path {d}/uw; scgi_temp_path {d}/sc;\n\
             server {{ listen 10.0.3.2:8080; root {d}/www; }} }}\n"
        ),
    )
    .expect("conf");
    let h = chain3();
    ok(&h, &format!("jexec b nginx -c {d}/nginx.conf > /dev/null 2>&1 &"));
    wait_listening(&h, "b", 8080);
    for i in 0..2 {
        let got = dir.join(format!("got{i}"));
        let (code, bytes) = curl_get(&h, "http://10.0.3.2:8080/blob", &got);
        assert_eq!(code, "200");
        assert!(bytes == blob, "10 MB byte for byte");
    }
    let o = ok(
        &h,
        "jexec a curl -s -o /dev/null -w %{http_code} http://10.0.3.2:8080/none",
    );
    assert_eq!(o, "404");
    h.tasks().kill_all();
}

#[test]
fn a_jailed_program_cannot_reach_the_hosts_own_sockets() {
    if !have(&[("curl", "curl")]) {
        return;
    }
    let host_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("host listener");
    host_listener.set_nonblocking(true).expect("nonblocking");
    let port = host_listener.local_addr().expect("addr").port();
    let h = chain3();
    // In a's vnet 127.0.0.1 is a's own lo0, where nothing listens.
    let o = h.exec(&format!("jexec a curl -s -S -m 5 http://127.0.0.1:{port}/"));
    assert_eq!(o.status, 7, "curl could not connect: {o:?}");
    assert!(host_listener.accept().is_err(), "nothing reached the host");
    // A UDP datagram to 127.0.0.1 stays in a's vnet too: nothing there,
    // refused; the host's UDP socket hears nothing. An ICMP socket is not
    // relayed: a clear errno and a line in vimage's log, never a host
    // socket.
    if common::ensure_tool("python3", "python3") {
        let host_udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("host udp");
        host_udp.set_nonblocking(true).expect("nonblocking");
        let uport = host_udp.local_addr().expect("addr").port();
        let script = format!(
            "import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(('127.0.0.1', {uport}))
u.send(b'out?')
u.settimeout(5)
try:
    u.recv(10)
except OSError as e:
    print(e.errno)
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
except OSError as e:
    print(e.errno)
"
        );
        let dir = tmpdir("hostprog-isolation");
        std::fs::write(dir.join("udp.py"), script).expect("script");
        let o = h.exec(&format!("jexec a python3 {}/udp.py", dir.display()));
        assert_eq!(o.stdout, "111\n93\n", "ECONNREFUSED, EPROTONOSUPPORT: {o:?}");
        assert!(host_udp.recv(&mut [0u8; 16]).is_err(), "nothing reached the host");
        let d = ok(&h, "dmesg");
        assert!(
            d.contains("python3[") && d.contains("sockets are not relayed (type 2, protocol 1) (errno 93)"),
            "{d}"
        );
    }
    // Outside a jail, host programs keep the host's network.
    let o = h.exec(&format!("curl -s -m 5 http://127.0.0.1:{port}/ & sleep 0.5"));
    assert!(o.success(), "{o:?}");
    let start = Instant::now();
    let mut reached = false;
    while start.elapsed() < Duration::from_secs(5) && !reached {
        reached = host_listener.accept().is_ok();
        h.run_for(Duration::from_millis(50));
    }
    assert!(reached, "a host program at the host reaches the host");
    h.tasks().kill_all();
}

#[test]
fn a_killed_program_leaves_no_socket_behind() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-kill");
    let h = chain3();
    python_serves(&h, "b", &dir, "10.0.3.2", 8123);
    let pids = common::sh(&format!(
        // [h]: the pattern does not match pgrep's own shell.
        "pgrep -f '[h]ttp.server -d {} ' || true",
        dir.display()
    ));
    assert!(!pids.trim().is_empty(), "the server runs");
    for pid in pids.split_whitespace() {
        common::sh(&format!("kill -9 {pid}"));
    }
    let start = Instant::now();
    loop {
        h.run_for(Duration::from_millis(100));
        let o = ok(&h, "jexec b sockstat -4");
        if !o.contains(":8123") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still there: {o}");
    }
    h.tasks().kill_all();
}

#[test]
fn a_forked_child_keeps_its_parents_connection() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-fork");
    let script = dir.join("fork.py");
    std::fs::write(
        &script,
        "import os, socket, sys\n\
         s = socket.create_connection(('10.0.3.2', 7000))\n\
         print('peer', s.getpeername()[0], 'local', s.getsockname()[0])\n\
         sys.stdout.flush()\n\
         pid = os.fork()\n\
         if pid == 0:\n    s.sendall(b'from child\\n'); os._exit(0)\n\
         os.waitpid(pid, 0)\n\
         s.sendall(b'from parent\\n')\n\
         s.close()\n",
    )
    .expect("script");
    let h = chain3();
    let out = dir.join("got");
    ok(&h, &format!("jexec b nc -l 7000 > {} &", out.display()));
    wait_listening(&h, "b", 7000);
    let o = ok(&h, &format!("jexec a python3 {}", script.display()));
    assert_eq!(o, "peer 10.0.3.2 local 10.0.0.1\n");
    let start = Instant::now();
    while std::fs::read_to_string(&out).unwrap_or_default() != "from child\nfrom parent\n" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            std::fs::read_to_string(&out)
        );
        h.run_for(Duration::from_millis(50));
    }
    h.tasks().kill_all();
}

/// The shim announces a socket without waiting for the answer (read with
/// its thread's next call): here one thread makes the sockets, whose
/// answers it never reads before others connect them on channels of
/// their own; then one thread makes, binds and listens at once.
#[test]
fn a_socket_made_by_one_thread_is_connected_by_another() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-threads");
    let script = dir.join("threads.py");
    std::fs::write(
        &script,
        "import socket, threading\n\
         socks = [socket.socket() for _ in range(8)]\n\
         def go(i):\n    s = socks[i]; s.connect(('10.0.3.2', 7000 + i))\n    \
         s.sendall(b'thread %d\\n' % i); s.close()\n\
         ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]\n\
         [t.start() for t in ts]; [t.join() for t in ts]\n\
         s = socket.socket(); s.bind(('0.0.0.0', 0)); s.listen(); print('listening', s.getsockname()[1] > 0)\n",
    )
    .expect("script");
    let h = chain3();
    let outs: Vec<_> = (0..8).map(|i| dir.join(format!("got{i}"))).collect();
    for (i, out) in outs.iter().enumerate() {
        ok(&h, &format!("jexec b nc -l {} > {} &", 7000 + i, out.display()));
        wait_listening(&h, "b", 7000 + i as u16);
    }
    let o = ok(&h, &format!("jexec a python3 {}", script.display()));
    assert_eq!(o, "listening True\n");
    let start = Instant::now();
    for (i, out) in outs.iter().enumerate() {
        while std::fs::read_to_string(out).unwrap_or_default() != format!("thread {i}\n") {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{i}: {:?}",
                std::fs::read_to_string(out)
            );
            h.run_for(Duration::from_millis(50));
        }
    }
    h.tasks().kill_all();
}

#[test]
fn redis_cli_sets_and_gets_across_jails() {
    if !have(&[("redis-server", "redis-server"), ("redis-cli", "redis-tools")]) {
        return;
    }
    let dir = tmpdir("hostprog-redis");
    let h = chain3();
    ok(
        &h,
        &format!(
            "jexec b redis-server --port 6379 --bind 10.0.3.2 --protected-mode no --save '' --appendonly no --dir {} > /dev/null &",
            dir.display()
        ),
    );
    wait_listening(&h, "b", 6379);
    assert_eq!(ok(&h, "jexec a redis-cli -h 10.0.3.2 SET lab vimage"), "OK\n");
    assert_eq!(ok(&h, "jexec a redis-cli -h 10.0.3.2 GET lab"), "vimage\n");
    assert_eq!(ok(&h, "jexec a redis-cli -h 10.0.3.2 INCRBY hits 41"), "41\n");
    h.tasks().kill_all();
}

#[test]
fn an_asyncio_echo_server_answers_a_hundred_clients_at_once() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-asyncio");
    std::fs::write(
        dir.join("server.py"),
        "import asyncio\n\
         async def echo(r, w):\n    \
             while data := await r.read(65536):\n        w.write(data); await w.drain()\n    \
             w.close()\n\
         async def main():\n    \
             s = await asyncio.start_server(echo, '10.0.3.2', 7100)\n    \
             async with s: await s.serve_forever()\n\
         asyncio.run(main())\n",
    )
    .expect("server");
    std::fs::write(
        dir.join("client.py"),
        "import asyncio\n\
         async def one(i):\n    \
             r, w = await asyncio.open_connection('10.0.3.2', 7100)\n    \
             msg = (b'client %d ' % i) * 500\n    \
             w.write(msg); await w.drain(); w.write_eof()\n    \
             got = await r.read()\n    \
             w.close()\n    \
             return got == msg\n\
         async def main():\n    \
             ok = await asyncio.gather(*(one(i) for i in range(100)))\n    \
             print(sum(ok), 'of', len(ok), 'echoed')\n\
         asyncio.run(main())\n",
    )
    .expect("client");
    let h = chain3();
    ok(&h, &format!("jexec b python3 {}/server.py &", dir.display()));
    wait_listening(&h, "b", 7100);
    let o = ok(&h, &format!("jexec a python3 {}/client.py", dir.display()));
    assert_eq!(o, "100 of 100 echoed\n");
    h.tasks().kill_all();
}

#[test]
fn socat_relays_between_two_jails() {
    if !have(&[("socat", "socat")]) {
        return;
    }
    let dir = tmpdir("hostprog-socat");
    let data = common::random_bytes(1 << 20, 13);
    std::fs::write(dir.join("data"), &data).expect("data");
    let h = chain3();
    let got = dir.join("got");
    ok(&h, &format!("jexec b nc -l 7300 > {} &", got.display()));
    wait_listening(&h, "b", 7300);
    // r2, between them, relays a's connection on to b.
    ok(
        &h,
        "jexec r2 socat TCP-LISTEN:7200,bind=10.0.1.2,reuseaddr TCP:10.0.3.2:7300 &",
    );
    wait_listening(&h, "r2", 7200);
    ok(
        &h,
        &format!("jexec a nc -N 10.0.1.2 7200 < {}", dir.join("data").display()),
    );
    let start = Instant::now();
    while std::fs::read(&got).unwrap_or_default().len() < data.len() {
        assert!(start.elapsed() < Duration::from_secs(10), "relayed in time");
        h.run_for(Duration::from_millis(50));
    }
    assert!(std::fs::read(&got).expect("got") == data, "1 MB byte for byte");
    // And a datagram, answered by a forked child of socat's through tr.
    ok(
        &h,
        "jexec b socat UDP-RECVFROM:7400,bind=10.0.3.2,fork EXEC:'tr a-z A-Z' &",
    );
    wait_udp(&h, "b", 7400);
    assert_eq!(
        ok(&h, "echo over udp | jexec a socat -t 5 - UDP:10.0.3.2:7400"),
        "OVER UDP\n"
    );
    h.tasks().kill_all();
}

#[test]
fn linux_iperf3_runs_between_two_jails() {
    if !have(&[("iperf3", "iperf3")]) {
        return;
    }
    let iperf3 = common::sh("command -v iperf3");
    let iperf3 = iperf3.trim();
    let h = chain3();
    // A path: the name alone is vimage's own iperf3.
    ok(&h, &format!("jexec b {iperf3} -s -1 -B 10.0.3.2 -p 5301 > /dev/null &"));
    wait_listening(&h, "b", 5301);
    let o = ok(&h, &format!("jexec a {iperf3} -c 10.0.3.2 -p 5301 -t 1 -f m"));
    let rx = o.lines().find(|l| l.contains("receiver")).unwrap_or_default();
    let mbits: f64 = rx
        .split_whitespace()
        .zip(rx.split_whitespace().skip(1))
        .find(|(_, u)| *u == "Mbits/sec")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0.0);
    assert!(mbits > 0.0, "{o}");
    // And UDP: 10 Mbit/s for a second, the loss the receiver counts.
    ok(&h, &format!("jexec b {iperf3} -s -1 -B 10.0.3.2 -p 5302 > /dev/null &"));
    wait_listening(&h, "b", 5302);
    let o = ok(&h, &format!("jexec a {iperf3} -c 10.0.3.2 -p 5302 -u -b 10M -t 1"));
    let rx = o.lines().find(|l| l.contains("receiver")).unwrap_or_default();
    let (lost, total) = rx
        .split_whitespace()
        .find_map(|w| {
            let (l, t) = w.split_once('/')?;
            Some((l.parse::<u32>().ok()?, t.parse::<u32>().ok()?))
        })
        .unwrap_or((0, 0));
    assert!(total > 500 && lost * 10 < total, "{o}");
    h.tasks().kill_all();
}

#[test]
fn python_speaks_udp_three_routers_away() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-udp");
    let server = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.0.3.2', 9000))
for i in range(4):
    data, anc, flags, peer = s.recvmsg(2048)
    s.sendmsg([data.upper(), b'!'], [], 0, peer)
"#;
    let client = r#"
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(5)
for m in [b'hello', b'x' * 1400, b'']:
    c.sendto(m, ('10.0.3.2', 9000))
    d, peer = c.recvfrom(4096)
    print(len(d), d[:6], peer)
print('bound', c.getsockname()[1] > 0)
c.sendto(b'truncated', ('10.0.3.2', 9000))
print(c.recv(4))
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.connect(('10.0.3.2', 9001))
d.send(b'anyone?')
d.settimeout(5)
try:
    d.recv(100)
except OSError as e:
    print('errno', e.errno)
"#;
    std::fs::write(dir.join("server.py"), server).expect("server");
    std::fs::write(dir.join("client.py"), client).expect("client");
    let h = chain3();
    ok(&h, &format!("jexec b python3 {}/server.py &", dir.display()));
    wait_udp(&h, "b", 9000);
    assert!(ok(&h, "jexec b sockstat -4").contains("udp4   10.0.3.2:9000"));
    let o = ok(&h, &format!("jexec a python3 {}/client.py", dir.display()));
    assert_eq!(
        o,
        "6 b'HELLO!' ('10.0.3.2', 9000)\n\
         1401 b'XXXXXX' ('10.0.3.2', 9000)\n\
         1 b'!' ('10.0.3.2', 9000)\n\
         bound True\n\
         b'TRUN'\n\
         errno 111\n"
    );
    h.tasks().kill_all();
}

#[test]
fn python_joins_a_multicast_group() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-mcast");
    let member = r#"
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', 5520))
mreq = struct.pack('4s4s', socket.inet_aton('224.0.0.9'), socket.inet_aton('10.0.0.2'))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
try:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
except OSError as e:
    print('again', e.errno)
s.settimeout(10)
d, peer = s.recvfrom(100)
print(d, peer[0], s.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL))
"#;
    let sender = r#"
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.0.0.1'))
c.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
c.sendto(b'rip?', ('224.0.0.9', 5520))
"#;
    std::fs::write(dir.join("member.py"), member).expect("member");
    std::fs::write(dir.join("sender.py"), sender).expect("sender");
    let h = chain3();
    let out = dir.join("out");
    ok(
        &h,
        &format!("jexec r1 python3 {}/member.py > {} &", dir.display(), out.display()),
    );
    wait_udp(&h, "r1", 5520);
    ok(&h, &format!("jexec a python3 {}/sender.py", dir.display()));
    let start = Instant::now();
    while !std::fs::read_to_string(&out).is_ok_and(|s| s.lines().count() >= 2)
        && start.elapsed() < Duration::from_secs(10)
    {
        h.run_for(Duration::from_millis(20));
    }
    let o = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(o, "again 98\nb'rip?' 10.0.0.1 1\n");
    h.tasks().kill_all();
}

#[test]
fn names_and_the_hostname_are_the_labs() {
    if !have(&[("curl", "curl"), ("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-names");
    std::fs::write(dir.join("hello"), "hello, lab\n").expect("file");
    let h = chain3();
    // A lab's node names, as a lab file's nodes put them.
    h.kernel().hosts.insert("web".into(), 0x0a00_0302);
    ok(&h, "jexec a hostname client.lab");
    python_serves(&h, "b", &dir, "10.0.3.2", 8000);
    assert_eq!(ok(&h, "jexec a curl -s http://web:8000/hello"), "hello, lab\n");
    let o = ok(
        &h,
        "jexec a python3 -c \"import socket, os; print(socket.gethostname(), os.uname().nodename, \
         socket.getaddrinfo('web', 'http', type=socket.SOCK_STREAM)[0][4])\"",
    );
    assert_eq!(o, "client.lab client.lab ('10.0.3.2', 80)\n");
    // Names the lab does not know are the host's to answer: localhost is
    // the jail's own loopback.
    let o = ok(
        &h,
        "jexec a python3 -c \"import socket; print(socket.getaddrinfo('localhost', 9, socket.AF_INET)[0][4])\"",
    );
    assert_eq!(o, "('127.0.0.1', 9)\n");
    h.tasks().kill_all();
}

#[test]
fn curl_fetches_over_ipv6_from_a_dual_stack_python() {
    if !have(&[("curl", "curl"), ("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-v6");
    std::fs::write(dir.join("hello"), "hello, six\n").expect("file");
    let h = Host::new(Config {
        clock: ClockKind::Real,
        ..Config::default()
    });
    common::run(
        &h,
        "jail -c name=a vnet persist
         jail -c name=b vnet persist
         ifconfig epair0 create
         ifconfig epair0a vnet a
         ifconfig epair0b vnet b
         jexec a ifconfig epair0a inet 10.0.0.1/24
         jexec b ifconfig epair0b inet 10.0.0.2/24
         jexec a ifconfig epair0a inet6 2001:db8::1/64 no_dad
         jexec b ifconfig epair0b inet6 2001:db8::2/64 no_dad",
    );
    // python's http.server on '::' turns IPV6_V6ONLY off: one socket for both.
    python_serves(&h, "b", &dir, "::", 8000);
    assert!(ok(&h, "jexec b sockstat -l").contains("tcp46"));
    assert_eq!(
        ok(&h, "jexec a curl -s -g http://[2001:db8::2]:8000/hello"),
        "hello, six\n"
    );
    assert_eq!(ok(&h, "jexec a curl -s http://10.0.0.2:8000/hello"), "hello, six\n");
    h.tasks().kill_all();
}

#[test]
fn a_non_blocking_connect_asked_again_waits_for_its_outcome() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let h = chain3();
    ok(&h, "jexec b nc -l 7400 > /dev/null &");
    wait_listening(&h, "b", 7400);
    // A slow link: the handshake is still under way when asked again.
    ok(&h, "jexec a pipe epair0a config delay 200ms");
    // hiredis's way: EINPROGRESS, poll for writing, connect again. The
    // pair is writable at once, so the second connect is what waits.
    let o = ok(
        &h,
        "jexec a python3 -c \"import socket, select, errno\n\
         s = socket.socket(); s.setblocking(False)\n\
         print(errno.errorcode[s.connect_ex(('10.0.3.2', 7400))])\n\
         select.select([], [s], [], 5)\n\
         print(errno.errorcode[s.connect_ex(('10.0.3.2', 7400))])\n\
         r = socket.socket(); r.setblocking(False); r.connect_ex(('10.0.3.2', 7401))\n\
         select.select([], [r], [], 5)\n\
         print(errno.errorcode[r.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)])\"",
    );
    assert_eq!(o, "EINPROGRESS\nEISCONN\nECONNREFUSED\n");
    h.tasks().kill_all();
}

#[test]
fn a_host_shell_script_in_a_jail_drives_it_with_vimage_commands() {
    // The host's /bin/sh in jail a: `ifconfig`, `ping`, `traceroute`,
    // `route`, `tcpdump` in it are vimage's commands in that jail, joined
    // by host pipes, loops and redirections; exit statuses cross, a loop's
    // input is not swallowed, and a file a command writes lands where the
    // script stands.
    let dir = tmpdir("hostsh");
    let script = "echo \"host $(hostname)\"
ifconfig epair0a | grep 'inet '
printf '10.0.0.2\\n10.0.3.2\\n' | while read h; do echo \"$h $(ping -c 1 $h | grep -c 'bytes from')\"; done
traceroute -n -q 1 10.0.3.2 2>/dev/null | awk '{print $2}' | tr '\\n' ' '; echo
route -n get 10.0.3.2 | awk '/gateway:/ {print \"via\", $2}'
ping -c 1 -t 1 10.9.9.9 >/dev/null 2>&1; echo \"unreachable $?\"
tcpdump -n -i epair0a -c 2 -w cap.pcap icmp 2>/dev/null &
sleep 0.5
ping -c 1 10.0.3.2 >/dev/null
wait
";
    std::fs::write(dir.join("s.sh"), script).unwrap();
    let lab = format!("{CHAIN3}\njexec a hostname alpha\njexec a /bin/sh s.sh > out.txt\n");
    std::fs::write(dir.join("lab.sh"), lab).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vimage"))
        .args(["--clock", "real", "shell", "lab.sh"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    assert_eq!(
        out,
        "host alpha
\tinet 10.0.0.1 netmask 0xffffff00 broadcast 10.0.0.255
10.0.0.2 1
10.0.3.2 1
10.0.0.2 10.0.1.2 10.0.2.2 10.0.3.2 
via 10.0.0.2
unreachable 2
"
    );
    // The echo request and its reply, 98 bytes each, in a pcap file.
    let pcap = std::fs::read(dir.join("cap.pcap")).unwrap();
    assert_eq!(pcap.len(), 24 + 2 * (16 + 98), "{pcap:?}");
}

#[test]
fn a_jailed_program_sees_its_vnets_interfaces() {
    if !have(&[("python3", "python3"), ("hostname", "hostname")]) {
        return;
    }
    let h = chain3();
    ok(&h, "jexec r1 ifconfig epair1a inet6 2001:db8:1::1/64");
    // getifaddrs(3): hostname(1) -I lists the addresses but loopback and
    // link-local ones.
    assert_eq!(
        ok(&h, "jexec r1 /bin/hostname -I"),
        "10.0.0.2 10.0.1.1 2001:db8:1::1 \n"
    );
    let names = ok(&h, "jexec r1 ifconfig -l");
    let o = ok(
        &h,
        "jexec r1 python3 -c \"import socket; print(' '.join(n for i, n in socket.if_nameindex()), \
         socket.if_indextoname(socket.if_nametoindex('epair1a')))\"",
    );
    assert_eq!(o, format!("{} epair1a\n", names.trim()));
    // netdevice(7)'s ioctls, on a socket of the jail.
    let o = ok(
        &h,
        "jexec r1 python3 -c \"import socket, fcntl, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def q(n, r): return fcntl.ioctl(s.fileno(), r, struct.pack('256s', n.encode()))
a, m, b = (socket.inet_ntoa(q('epair1a', r)[20:24]) for r in (0x8915, 0x891b, 0x8919))
f, = struct.unpack('H', q('epair1a', 0x8913)[16:18])
mtu, = struct.unpack('i', q('lo0', 0x8921)[16:20])
print(a, m, b, hex(f & 0x1043), mtu, q('epair1a', 0x8927)[18:24].hex(':'))
try: q('nope0', 0x8915)
except OSError as e: print(e.errno)
try: q('epair1a', 0x8914)
except OSError as e: print(e.errno)\"",
    );
    let ether = ok(&h, "jexec r1 ifconfig epair1a ether");
    let mac = ether
        .split_whitespace()
        .nth_back(0)
        .map(str::to_owned)
        .unwrap_or_default();
    assert_eq!(
        o,
        format!("10.0.1.1 255.255.255.0 10.0.1.255 0x1043 16384 {mac}\n19\n1\n")
    );
    assert!(ok(&h, "dmesg").contains("ioctl 0x8914 on epair1a is refused"), "logged");
    h.tasks().kill_all();
}

#[test]
fn tcp_info_is_the_vnet_connections() {
    if !have(&[("python3", "python3")]) {
        return;
    }
    let dir = tmpdir("hostprog-tcpinfo");
    std::fs::write(dir.join("f"), vec![b'x'; 200_000]).expect("file");
    let h = chain3();
    python_serves(&h, "b", &dir, "10.0.3.2", 8000);
    // Fetch 200 kB, then read struct tcp_info (linux/tcp.h) of the
    // connection: state, options, wscales, snd_mss, rtt, snd_cwnd.
    let o = ok(
        &h,
        "jexec a python3 -c \"import socket, struct
s = socket.create_connection(('10.0.3.2', 8000))
s.sendall(b'GET /f HTTP/1.0\\r\\n\\r\\n')
n = 0
while True:
    d = s.recv(65536)
    if not d: break
    n += len(d)
i = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
st, opt, ws = i[0], i[5], i[6]
mss, = struct.unpack('I', i[16:20])
rtt, cwnd = struct.unpack('II', i[68:72] + i[80:84])
print(n > 200000, len(i), st, opt, ws & 15, ws >> 4, mss, rtt > 0, cwnd > 0)\"",
    );
    // FreeBSD's SYN asks for TS, SACK and wscale 6 (the peer's too);
    // the peer closed first: CLOSE_WAIT (8); MSS 1460 less 12 for TS.
    assert_eq!(o, "True 104 8 7 6 6 1448 True True\n");
    h.tasks().kill_all();
}

#[test]
fn a_daemon_that_left_its_process_group_goes_with_its_jail() {
    if !have(&[("redis-server", "redis-server")]) {
        return;
    }
    let dir = tmpdir("hostprog-daemon");
    let pidfile = dir.join("r.pid");
    let h = chain3();
    ok(
        &h,
        &format!(
            "jexec b redis-server --port 6390 --bind 10.0.3.2 --daemonize yes --pidfile {} --save '' --appendonly no --dir {}",
            pidfile.display(),
            dir.display()
        ),
    );
    wait_listening(&h, "b", 6390);
    // redis writes its pidfile after it listens: wait for it too.
    let start = Instant::now();
    while !std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))
        && start.elapsed() < Duration::from_secs(10)
    {
        h.run_for(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pidfile).expect("pidfile").trim().to_string();
    // Alive and not a zombie: /proc/PID/stat's third field.
    let alive = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit(')').next().and_then(|t| t.split_whitespace().next()) != Some("Z"))
    };
    assert!(alive(&pid), "redis-server {pid} runs, daemonized");
    ok(&h, "jail -r b");
    let start = Instant::now();
    while alive(&pid) && start.elapsed() < Duration::from_secs(10) {
        h.run_for(Duration::from_millis(20));
    }
    assert!(!alive(&pid), "redis-server {pid} went with its jail");
    h.tasks().kill_all();
}

#[test]
fn outside_a_jail_the_shim_stands_aside() {
    if !have(&[("python3", "python3"), ("hostname", "hostname")]) {
        return;
    }
    let shim = vimage::userland::shim::shim_path().expect("shim");
    // What the shim stands in for, answered by libc's own functions when
    // no jail gave the program a control socket (once a call through
    // `libc::` came back to the shim: a stack overflow).
    let script = "import socket, fcntl, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
f, = struct.unpack('H', fcntl.ioctl(s.fileno(), 0x8913, struct.pack('256s', b'lo'))[16:18])
print(socket.if_nameindex(), socket.if_nametoindex('lo'), socket.if_indextoname(1), f & 9, s.getsockname()[0])";
    let run = |prog: &str, args: &[&str], preload: bool| {
        let mut c = std::process::Command::new(prog);
        c.args(args).env_remove("VIMAGE_SHIM_FD");
        if preload {
            c.env("LD_PRELOAD", &shim);
        }
        let o = c.output().expect("runs");
        assert!(o.status.success(), "{prog}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let host = run("python3", &["-c", script], false);
    assert!(host.contains(" 1 lo 9 127.0.0.1"), "{host}");
    assert_eq!(run("python3", &["-c", script], true), host);
    assert_eq!(run("hostname", &["-I"], true), run("hostname", &["-I"], false));
}
